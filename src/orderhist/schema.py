"""The order line's schema: its columns, the table's keys, index and shape, and the sort key's
format, in one place.

Shipped in the Lambda zip (the handler's items are keyed by it), so standard library only.
An item's attributes carry the names of the columns they hold; the partition and sort keys
are names of their own, so renaming one touches this module alone.
"""
from __future__ import annotations

from typing import Any

from orderhist.errors import UsageProblem

# The dataset's eight columns (the UCI Online Retail schema), in the order the log line writes
# them; the generator adds the last two of the log line.
INVOICE_NO, STOCK_CODE, DESCRIPTION, QUANTITY = "InvoiceNo", "StockCode", "Description", "Quantity"
INVOICE_DATE, UNIT_PRICE, CUSTOMER_ID, COUNTRY = (
    "InvoiceDate", "UnitPrice", "CustomerID", "Country")
DATASET_COLUMNS = (
    INVOICE_NO, STOCK_CODE, DESCRIPTION, QUANTITY,
    INVOICE_DATE, UNIT_PRICE, CUSTOMER_ID, COUNTRY,
)
LINE_NO, EMITTED_AT = "LineNo", "EmittedAt"
LOG_COLUMNS = DATASET_COLUMNS + (LINE_NO, EMITTED_AT)
# Attributes only the table's items carry.
CANCELLED, STORED_AT = "Cancelled", "StoredAt"

# The table: a customer's lines in one partition, sorted by date so that a Query read
# backwards is the history newest first; one invoice's lines through the index.
PARTITION_KEY = "CustomerID"
SORT_KEY = "SK"
INVOICE_INDEX = "ByInvoice"
INVOICE_INDEX_KEY, INVOICE_INDEX_SORT = INVOICE_NO, LINE_NO

# A line without a customer is kept in a partition of its own invoice; no customer id holds
# a "#", so no customer's partition can be taken for one.
GUEST_PREFIX = "GUEST#"
LINE_NO_DIGITS = 7
# Sorts after every "#<invoice>#<line>" that follows a moment: the end of that second.
_AFTER_MOMENT = "#~"


class SortKeyError(UsageProblem):  # a ValueError too: cursor checks catch that
    """A text that is not a sort key this schema writes."""


def partition_key(customer_id: str | None, invoice_no: str) -> str:
    return customer_id if customer_id else GUEST_PREFIX + invoice_no


def customer_of(partition: str) -> str | None:
    """The customer id a line's partition key holds; None for a guest's."""
    return None if partition.startswith(GUEST_PREFIX) else partition


def sort_key(invoice_date: str, invoice_no: str, line_no: int) -> str:
    return f"{invoice_date}#{invoice_no}#{line_no:0{LINE_NO_DIGITS}d}"


def parse_sort_key(text: str) -> tuple[str, str, int]:
    """(invoice_date, invoice_no, line_no) back out of a `sort_key`."""
    parts = text.rsplit("#", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        raise SortKeyError(f"sort key {text[:60]!r} is not <date>#<invoice>#<line>")
    return parts[0], parts[1], int(parts[2])


def until_bound(moment: str) -> str:
    """The sort key every line placed at or before `moment` (ISO seconds) sorts below; a line
    placed from a moment on sorts at or above the moment itself."""
    return moment + _AFTER_MOMENT


def key(partition: str, sort: str) -> dict[str, dict[str, str]]:
    """An item's key in DynamoDB's typed form."""
    return {PARTITION_KEY: {"S": partition}, SORT_KEY: {"S": sort}}


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    """(partition key, sort key) of an item in DynamoDB's typed form."""
    return item[PARTITION_KEY]["S"], item[SORT_KEY]["S"]


def table_shape(name: str) -> dict[str, Any]:
    """The orders table's key schema and its index, as create_table takes them: the one
    definition the stack, the tests and the benchmarks share."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
            {"AttributeName": INVOICE_INDEX_KEY, "AttributeType": "S"},
            {"AttributeName": INVOICE_INDEX_SORT, "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                      {"AttributeName": SORT_KEY, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": INVOICE_INDEX,
            "KeySchema": [{"AttributeName": INVOICE_INDEX_KEY, "KeyType": "HASH"},
                          {"AttributeName": INVOICE_INDEX_SORT, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    }
