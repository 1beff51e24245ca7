"""The read side: a customer's past orders, newest first, one entry per invoice.

Imports neither pandas nor moto, so `orderhist orders` starts fast. Money is Decimal from
the table's exact numbers to the JSON's strings.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from orderhist import aws, records
from orderhist.errors import UsageProblem
from orderhist.records import OrderLine

QUERY_PAGE = 1000


@dataclass
class Order:
    invoice: str
    date: str
    cancelled: bool
    country: str
    lines: list[OrderLine] = field(default_factory=list)

    @property
    def items(self) -> int:
        return len(self.lines)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def to_json(self) -> dict:
        return {
            "invoice": self.invoice,
            "date": self.date,
            "cancelled": self.cancelled,
            "country": self.country,
            "items": self.items,
            "units": self.units,
            "total": str(self.total),
            "lines": [{
                "line": line.line_no,
                "stock_code": line.stock_code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": format(line.unit_price, "f"),
                "amount": str(line.amount),
            } for line in self.lines],
        }


@dataclass
class History:
    customer: str
    orders: list[Order]
    next: str | None = None

    def to_json(self) -> dict:
        return {"customer": self.customer, "orders": [o.to_json() for o in self.orders],
                "next": self.next}


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


def customer_history(target: aws.Target, table: str, customer: str, *, limit: int | None = None,
                     since: str | None = None, until: str | None = None,
                     cursor: str | None = None, invoice: str | None = None) -> History:
    customer = records.normalise_customer_id(customer) or ""
    if not customer:
        raise UsageProblem("--customer must name a customer")
    dynamodb = aws.client("dynamodb", target)
    if invoice:
        return History(customer, _one_invoice(dynamodb, table, customer, invoice))

    lower = parse_day(since)
    upper = _decode_cursor(cursor) if cursor else None
    until_bound = parse_day(until, end_of_day=True)
    if until_bound:
        # "#~" sorts after every "#<invoice>#<line>" of that second.
        until_bound += "#~"
        upper = min(upper, until_bound) if upper else until_bound

    orders: dict[str, Order] = {}
    last_sk_of: dict[str, str] = {}
    for item in _query(dynamodb, table, customer, lower, upper):
        line = records.from_item(item)
        order = orders.get(line.invoice_no)
        if order is None:
            if limit is not None and len(orders) == limit:
                # One more invoice exists: the cursor resumes below the last one shown.
                last = next(reversed(orders))
                return History(customer, _finish(orders), _encode_cursor(last_sk_of[last]))
            order = orders[line.invoice_no] = Order(
                line.invoice_no, line.invoice_date, line.cancelled, line.country)
        order.lines.append(line)
        last_sk_of[line.invoice_no] = item["SK"]["S"]
    return History(customer, _finish(orders))


def _finish(orders: dict[str, Order]) -> list[Order]:
    for order in orders.values():
        order.lines.sort(key=lambda line: line.line_no)
        # An invoice whose lines carry two timestamps was placed at the earlier one.
        order.date = min(line.invoice_date for line in order.lines)
    return list(orders.values())


def _query(dynamodb, table: str, customer: str, lower: str | None, upper: str | None):
    values = {":c": {"S": customer}}
    condition = "CustomerID = :c"
    if lower and upper:
        condition += " AND SK BETWEEN :lo AND :hi"
        values.update({":lo": {"S": lower}, ":hi": {"S": upper}})
    elif lower:
        condition += " AND SK >= :lo"
        values[":lo"] = {"S": lower}
    elif upper:
        condition += " AND SK < :hi"
        values[":hi"] = {"S": upper}
    request = {"TableName": table, "KeyConditionExpression": condition,
               "ExpressionAttributeValues": values, "ScanIndexForward": False,
               "Limit": QUERY_PAGE}
    while True:
        reply = dynamodb.query(**request)
        yield from reply.get("Items", [])
        if not reply.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _one_invoice(dynamodb, table: str, customer: str, invoice: str) -> list[Order]:
    request = {"TableName": table, "IndexName": "ByInvoice",
               "KeyConditionExpression": "InvoiceNo = :i",
               "ExpressionAttributeValues": {":i": {"S": invoice.strip()}}}
    lines = []
    while True:
        reply = dynamodb.query(**request)
        lines += [records.from_item(item) for item in reply.get("Items", [])
                  if item["CustomerID"]["S"] == customer]
        if not reply.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    if not lines:
        return []
    first = lines[0]
    order = Order(first.invoice_no, first.invoice_date, first.cancelled, first.country, lines)
    return _finish({order.invoice: order})


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": sort_key}).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
    except (ValueError, KeyError, TypeError):
        raise UsageProblem("--cursor is not a cursor that `orders` printed") from None
