"""Order lines for the tests: one `order_line`, in the flavours the tests use."""
from __future__ import annotations

from decimal import Decimal

from orderhist import records, refusals, schema

DATE = "2010-12-01T08:26:00"
_DEFAULT = object()

# Scan arguments that leave out the refused records the handler keeps in the table.
ORDER_LINES_ONLY = {
    "FilterExpression": f"NOT begins_with({schema.PARTITION_KEY}, :rejects)",
    "ExpressionAttributeValues": {":rejects": {"S": refusals.REJECTS_PREFIX}},
}


def order_line(line_no: int, customer=_DEFAULT, description: str | None = None,
               invoice: str | None = None, *, varied: bool = False, newline: bool = True,
               date: str = DATE, quantity=None, price="2.55", stock_code: str | None = None,
               as_record: bool = False):
    """One order line whose identity is its LineNo.

    As a log line the generator writes (RFC 4180, emitted now, with its "\\n" unless
    newline=False): by default the same line for every number but its invoice and description
    ('WHITE "HANGING" HEART, T-LIGHT HOLDER #n', customer 17850, 6 at 2.55); varied=True
    varies stock code, description, quantity and customer with the number. customer=None
    makes a guest's line. With as_record=True: the validated records.OrderLine instead (built
    by records.from_fields, no emitted time), stock code "S<n>", description "item [<n>]"."""
    invoice = invoice or f"5{line_no // 10:05d}"
    if as_record:
        return records.from_fields({
            "InvoiceNo": invoice, "StockCode": stock_code or f"S{line_no}",
            "Description": description or f"item [{line_no}]",
            "Quantity": 6 if quantity is None else quantity, "InvoiceDate": date,
            "UnitPrice": price, "CustomerID": "17850" if customer is _DEFAULT else customer,
            "Country": "United Kingdom", "LineNo": line_no})
    if varied:
        stock_code = stock_code or f"SC{line_no % 97}"
        description = description or f'Item "{line_no}", with comma'
        quantity = line_no % 7 + 1 if quantity is None else quantity
        customer = str(12000 + line_no % 50) if customer in (_DEFAULT, None) else customer
    else:
        stock_code = stock_code or "85123A"
        description = description or f'WHITE "HANGING" HEART, T-LIGHT HOLDER #{line_no}'
        quantity = 6 if quantity is None else quantity
        customer = "17850" if customer is _DEFAULT else customer
    line = records.OrderLine(
        invoice_no=invoice, stock_code=stock_code, description=description, quantity=quantity,
        invoice_date=date, unit_price=Decimal(price), customer_id=customer,
        country="United Kingdom", line_no=line_no, emitted_at=records.utc_now_iso_ms())
    return records.to_log_line(line) + ("\n" if newline else "")


def runtime_order_line(line_no: int, customer: str | None = None,
                       invoice: str | None = None) -> str:
    """The runtime and handler tests' line: varied, without a "\\n"."""
    return order_line(line_no, customer, invoice=invoice, varied=True, newline=False)


def order_record(invoice: str, date: str, line_no: int, quantity=2, price="1.25",
                 customer: str | None = "17850") -> records.OrderLine:
    """The read side's tests' validated order (positional as they write their tables)."""
    return order_line(line_no, customer, invoice=invoice, date=date, quantity=quantity,
                      price=price, as_record=True)


def pennies(value: Decimal) -> str:
    """Money as the contract writes it: exact, and at least to the penny."""
    return f"{value:.2f}" if value.as_tuple().exponent > -2 else format(value, "f")
