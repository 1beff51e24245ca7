"""The read side against a real table: grouping by invoice, newest first, exact totals,
pages with a cursor, date filters, one invoice through the GSI, unknown customers."""
from __future__ import annotations

from decimal import Decimal

import pytest

from orderhist import aws, history, records
from orderhist.errors import UsageProblem
from orderhist.resources import Names, Settings, StackContext
from orderhist.resources.data import Table


def order_line(invoice, date, line_no, quantity=2, price="1.25", customer="17850"):
    return records.from_fields({
        "InvoiceNo": invoice, "StockCode": f"S{line_no}", "Description": f"item [{line_no}]",
        "Quantity": quantity, "InvoiceDate": date, "UnitPrice": price,
        "CustomerID": customer, "Country": "United Kingdom", "LineNo": line_no})


LINES = [
    order_line("536365", "2010-12-01T08:26:00", 1, 6, "2.55"),
    order_line("536365", "2010-12-01T08:26:00", 2, 6, "3.39"),
    order_line("536366", "2010-12-01T08:28:00", 3, 6, "1.85"),
    order_line("C536379", "2010-12-01T09:41:00", 4, -1, "27.50"),
    order_line("536400", "2010-12-02T10:00:00", 5, 1, "0.10"),
    order_line("536400", "2010-12-02T10:00:00", 6, 3, "0.20"),
    order_line("536401", "2010-12-02T10:00:00", 7, 1, "5", customer="99999"),
    order_line("536402", "2010-12-03T10:00:00", 8, 1, "5", customer=None),
]


@pytest.fixture(scope="module")
def table(local_target, tmp_path_factory):
    import uuid

    account = aws.client("sts", local_target).get_caller_identity()["Account"]
    ctx = StackContext(local_target, Names("h" + uuid.uuid4().hex[:8], account, "us-east-1"),
                       Settings())
    record = Table().create(ctx)
    dynamodb = aws.client("dynamodb", local_target)
    for line in LINES:
        dynamodb.put_item(TableName=record["id"],
                          Item=records.to_item(line, "2026-01-01T00:00:00.000Z"))
    yield record["id"]
    dynamodb.delete_table(TableName=record["id"])


def test_orders_are_grouped_newest_first_with_exact_totals(local_target, table):
    result = history.customer_history(local_target, table, "17850").to_json()
    assert [o["invoice"] for o in result["orders"]] == ["536400", "C536379", "536366", "536365"]
    first = result["orders"][-1]
    assert first["total"] == "35.64" and first["items"] == 2 and first["units"] == 12
    assert [line["line"] for line in first["lines"]] == [1, 2]
    assert first["lines"][1]["amount"] == "20.34" and first["lines"][1]["unit_price"] == "3.39"
    cancelled = result["orders"][1]
    assert cancelled["cancelled"] is True and cancelled["total"] == "-27.50"
    assert result["orders"][0]["total"] == "0.70"
    assert result["next"] is None
    summary = result["summary"]
    assert summary["placed"] == 3 and summary["cancelled"] == 1
    assert summary["total"] == "19.94"  # 35.64 + 11.10 - 27.50 + 0.70, to the penny
    assert summary["by_month"] == {"2010-12": "19.94"}
    assert summary["first"] == "2010-12-01T08:26:00" and summary["last"] == "2010-12-02T10:00:00"


def test_pages_follow_the_cursor_without_gaps_or_repeats(local_target, table):
    seen = []
    cursor = None
    for _ in range(5):
        page = history.customer_history(local_target, table, "17850.0", limit=1, after=cursor)
        seen += [o.invoice for o in page.orders]
        cursor = page.next
        if cursor is None:
            break
    assert seen == ["536400", "C536379", "536366", "536365"]


def test_date_filters_are_inclusive_days(local_target, table):
    result = history.customer_history(local_target, table, "17850",
                                      since="2010-12-01", until="2010-12-01")
    assert [o.invoice for o in result.orders] == ["C536379", "536366", "536365"]
    later = history.customer_history(local_target, table, "17850", since="2010-12-02")
    assert [o.invoice for o in later.orders] == ["536400"]
    with pytest.raises(UsageProblem):
        history.customer_history(local_target, table, "17850", since="yesterday")


def test_one_invoice_through_the_index_only_for_its_customer(local_target, table):
    result = history.invoice_history(local_target, table, "536365", "17850")
    assert [o.invoice for o in result.orders] == ["536365"]
    assert result.orders[0].total == Decimal("35.64")
    assert history.invoice_history(local_target, table, "536401", "17850").orders == []
    guest = history.invoice_history(local_target, table, "536402")
    assert [o.invoice for o in guest.orders] == ["536402"] and guest.customer == "GUEST#536402"


def test_an_unknown_customer_has_no_orders(local_target, table):
    assert history.customer_history(local_target, table, "12345").orders == []


def test_an_item_orderhist_did_not_write_is_reported_not_a_crash(local_target, table):
    from orderhist.errors import OrderhistError

    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.put_item(TableName=table, Item={"CustomerID": {"S": "19999"}, "SK": {"S": "oops"},
                                            "Quantity": {"N": "1"}, "UnitPrice": {"N": "1"}})
    with pytest.raises(OrderhistError, match="did not write"):
        history.customer_history(local_target, table, "19999", line_details=False)
