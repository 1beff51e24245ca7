"""The read side: a customer's past orders, newest first, one entry per invoice.

Imports neither pandas nor moto, so `orderhist orders` starts fast. Money is Decimal from
the table's exact numbers to the JSON's strings.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from orderhist import aws, records, schema
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.records import OrderLine
from orderhist.schema import PARTITION_KEY, QUANTITY, SORT_KEY, UNIT_PRICE

# A DynamoDB item as boto3's client returns it: attribute name to typed value ({"S": ...}).
Item = Mapping[str, Mapping[str, Any]]


class _Queries(Protocol):
    """The one call made on the DynamoDB client (boto3 has no type information here)."""

    def query(self, **request: Any) -> dict[str, Any]: ...


@dataclass
class Order:
    invoice: str
    date: str
    cancelled: bool
    country: str
    lines: list[OrderLine] = field(default_factory=list)
    first_key: str = ""  # the sort key of its newest line: where a page boundary falls

    @property
    def items(self) -> int:
        return len(self.lines)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice": self.invoice,
            "date": self.date,
            "cancelled": self.cancelled,
            "country": self.country,
            "items": self.items,
            "units": self.units,
            "total": records.money(self.total),
            "lines": [{
                "line": line.line_no,
                "stock_code": line.stock_code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": records.money(line.unit_price),
                "amount": records.money(line.amount),
            } for line in self.lines],
        }


@dataclass
class Summary:
    placed: int
    cancelled: int
    total: Decimal
    first: str | None
    last: str | None
    by_month: dict[str, Decimal]

    def to_json(self) -> dict[str, Any]:
        return {"placed": self.placed, "cancelled": self.cancelled,
                "total": records.money(self.total), "first": self.first, "last": self.last,
                "by_month": {month: records.money(value)
                             for month, value in self.by_month.items()}}


@dataclass
class History:
    customer: str
    orders: list[Order]
    next: str | None = None
    summary: Summary | None = None

    def to_json(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"customer": self.customer,
                                 "orders": [o.to_json() for o in self.orders], "next": self.next}
        if self.summary is not None:
            reply["summary"] = self.summary.to_json()
        return reply


def parse_day(text: str | None, end_of_day: bool = False) -> str | None:
    """A --since/--until value (YYYY-MM-DD or ISO date-time) as a sort-key bound."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return f"{day.isoformat()}T{'23:59:59' if end_of_day else '00:00:00'}"
        return records.normalise_date(datetime.fromisoformat(text))
    except ValueError:
        raise UsageProblem(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def date_bounds(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """--since and --until as sort-key bounds, checked to make a range."""
    lower, upper = parse_day(since), parse_day(until, end_of_day=True)
    if lower and upper and lower > upper:
        raise UsageProblem(f"--since {since} is after --until {until}: swap them")
    return lower, upper


def parse_customer(text: str) -> str:
    """A --customer value: a customer number as the dataset writes it (17850 or 17850.0)."""
    try:
        customer = records.normalise_customer_id(text)
    except records.RecordError:
        customer = None
    if not customer or not customer.isdigit():
        raise UsageProblem(f"--customer {text!r} is not a customer number (e.g. 17850)")
    return customer


# What the orders table and the summary need of each line; the rest (descriptions, stock
# codes, timestamps) is two thirds of an item and only the lines shown need it.
SUMMARY_ATTRIBUTES = f"{SORT_KEY}, {QUANTITY}, {UNIT_PRICE}"


def customer_history(target: aws.Target, table: str, customer: str, *, limit: int | None = None,
                     since: str | None = None, until: str | None = None,
                     after: str | None = None, line_details: bool = True) -> History:
    """Every order of the customer within the dates, newest first, summarised; then the page
    of `limit` orders that follows the cursor `after`. Without `line_details` the orders'
    lines carry only what totals need (no description, stock code or country): a third of
    the data to read, for the table view, which shows one invoice's lines and reads those
    through `invoice_history`."""
    customer = parse_customer(customer)
    lower, upper = date_bounds(since, until)
    after_key = decode_cursor(after) if after else None
    if upper:
        upper = schema.until_bound(upper)
    items = _query(aws.client("dynamodb", target, patient=False), table, customer, lower, upper,
                   projection=None if line_details else SUMMARY_ATTRIBUTES)
    orders = group_orders(items, records.from_item if line_details
                          else lambda item: _summary_line(customer, item))
    summary = summarise(orders)
    if after_key is not None:
        orders = [order for order in orders if order.first_key < after_key]
    next_cursor = None
    if limit is not None and len(orders) > limit:
        orders = orders[:limit]
        next_cursor = _encode_cursor(orders[-1].first_key)
    return History(customer, orders, next_cursor, summary)


def invoice_history(target: aws.Target, table: str, invoice: str,
                    customer: str | None = None) -> History:
    """One invoice through the ByInvoice index, guest invoices included; with a customer,
    only if it is theirs."""
    customer = parse_customer(customer) if customer is not None else None
    dynamodb = aws.client("dynamodb", target, patient=False)
    request = {"TableName": table, "IndexName": schema.INVOICE_INDEX,
               "KeyConditionExpression": f"{schema.INVOICE_INDEX_KEY} = :i",
               "ExpressionAttributeValues": {":i": {"S": invoice.strip()}}}
    items = []
    while True:
        reply = dynamodb.query(**request)
        items += reply.get("Items", [])
        if not reply.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    owners = {item[PARTITION_KEY]["S"] for item in items}
    if customer is not None and customer not in owners:
        items = []
    owner = customer or (next(iter(owners)) if len(owners) == 1 else "")
    return History(owner, group_orders(items))


def group_orders(items: Iterable[Item],
                 to_line: Callable[[Item], OrderLine] = records.from_item) -> list[Order]:
    """Lines (newest first, as the table returns them) grouped into orders, in that order."""
    orders: dict[str, Order] = {}
    for item in items:
        line = to_line(item)
        order = orders.get(line.invoice_no)
        if order is None:
            order = orders[line.invoice_no] = Order(
                line.invoice_no, line.invoice_date, line.cancelled, line.country,
                first_key=item[SORT_KEY]["S"])
        order.lines.append(line)
    for order in orders.values():
        order.lines.sort(key=lambda line: line.line_no)
        # An invoice whose lines carry two timestamps was placed at the earlier one.
        order.date = min(line.invoice_date for line in order.lines)
    return list(orders.values())


def summarise(orders: list[Order]) -> Summary:
    by_month: dict[str, Decimal] = {}
    for order in sorted(orders, key=lambda o: o.date):
        month = order.date[:7]
        by_month[month] = by_month.get(month, Decimal(0)) + order.total
    dates = [order.date for order in orders]
    return Summary(
        placed=sum(not order.cancelled for order in orders),
        cancelled=sum(order.cancelled for order in orders),
        total=sum((order.total for order in orders), Decimal(0)),
        first=min(dates) if dates else None,
        last=max(dates) if dates else None,
        by_month=by_month,
    )


def _summary_line(customer: str, item: Item) -> OrderLine:
    """A line from the summary attributes: the sort key holds its date, invoice and number."""
    try:
        invoice_date, invoice_no, line_no = OrderLine.parse_sort_key(item[SORT_KEY]["S"])
    except records.RecordError as error:
        raise OrderhistError(f"customer {customer} has an item orderhist did not write: "
                             f"{error}") from None
    return OrderLine(invoice_no=invoice_no, stock_code="", description="",
                     quantity=int(item[QUANTITY]["N"]), invoice_date=invoice_date,
                     unit_price=Decimal(item[UNIT_PRICE]["N"]), customer_id=customer,
                     country="", line_no=line_no)


def _query(dynamodb: _Queries, table: str, customer: str, lower: str | None, upper: str | None,
           projection: str | None = None) -> Iterator[Item]:
    values = {":c": {"S": customer}}
    condition = f"{PARTITION_KEY} = :c"
    if lower and upper:
        condition += f" AND {SORT_KEY} BETWEEN :lo AND :hi"
        values.update({":lo": {"S": lower}, ":hi": {"S": upper}})
    elif lower:
        condition += f" AND {SORT_KEY} >= :lo"
        values[":lo"] = {"S": lower}
    elif upper:
        condition += f" AND {SORT_KEY} < :hi"
        values[":hi"] = {"S": upper}
    request = {"TableName": table, "KeyConditionExpression": condition,
               "ExpressionAttributeValues": values, "ScanIndexForward": False}
    if projection:
        request["ProjectionExpression"] = projection
    while True:
        reply = dynamodb.query(**request)
        yield from reply.get("Items", [])
        if not reply.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": sort_key}).encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor holds. A cursor is the user's text: anything but the JSON
    object `_encode_cursor` made, holding a sort key, is a usage error (a list, a number or
    a nested forgery once reached the page filter as a TypeError)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        before = decoded.get("before") if isinstance(decoded, dict) else None
        if isinstance(before, str):
            OrderLine.parse_sort_key(before)
            return before
    except (ValueError, RecursionError):  # binascii, JSON, UTF-8 and sort-key errors
        pass
    raise UsageProblem("--after is not a cursor that `orders` printed: copy the one the "
                       "previous page ended with, or leave --after out for the first page")


def follow(target: aws.Target, table: str, customer: str,
           poll_interval: float = 0.5) -> Iterator[list[Order]]:
    """Yield each batch of lines that lands for the customer from now on, as orders.

    Dataset dates are not arrival order (an old order can land late), so each poll compares
    the whole history's keys with what was already seen rather than reading past a bound."""
    import time

    customer = parse_customer(customer)
    dynamodb = aws.client("dynamodb", target, patient=False)
    seen = {item[SORT_KEY]["S"] for item in _query(dynamodb, table, customer, None, None)}
    while True:
        time.sleep(poll_interval)
        fresh = [item for item in _query(dynamodb, table, customer, None, None)
                 if item[SORT_KEY]["S"] not in seen]
        if fresh:
            seen.update(item[SORT_KEY]["S"] for item in fresh)
            yield group_orders(fresh)
