r"""The order line: parse (CSV log line or CSVTOJSON object), validate, normalise, serialise.

One module shared by the generator, the agent, the Lambda handler and the reader. It uses the
standard library only, because it is shipped inside the Lambda zip.

The log line is one RFC 4180 CSV line whose text fields carry the reversible escape of
`textescape`. Only the writer (`to_log_line`) escapes and only the wire parsers
(`parse_log_line`, `parse_json`) unescape; `from_fields` takes raw values from the datasets.
CSVTOJSON keeps the escaped text as it is, as the real Kinesis Agent would. A lone surrogate
travels to the handler and is refused there (`parse_wire`), with its reason, since DynamoDB
cannot store it.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from orderhist import schema
from orderhist.errors import RecordError as RecordError  # records' API since before errors had it
from orderhist.schema import (
    CANCELLED,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    EMITTED_AT,
    INVOICE_DATE,
    INVOICE_NO,
    LINE_NO,
    LINE_NO_DIGITS,
    LOG_COLUMNS,
    QUANTITY,
    STOCK_CODE,
    STORED_AT,
    UNIT_PRICE,
)
from orderhist.textescape import escape_text, unescape_text

# Other spellings of a column seen in the wild: the seed's CSVTOJSON names CustomerID
# "Customer"; Online Retail II says "Invoice", "Price" and "Customer ID".
FIELD_ALIASES = {
    "Customer": CUSTOMER_ID, "Customer ID": CUSTOMER_ID, "Invoice": INVOICE_NO,
    "Price": UNIT_PRICE,
}
# The OrderLine attribute that holds each dataset column.
ATTRIBUTE = {
    INVOICE_NO: "invoice_no", STOCK_CODE: "stock_code", DESCRIPTION: "description",
    QUANTITY: "quantity", INVOICE_DATE: "invoice_date", UNIT_PRICE: "unit_price",
    CUSTOMER_ID: "customer_id", COUNTRY: "country",
}

# DynamoDB items are capped at 400 KB including attribute names; leave room for the rest.
MAX_TEXT_BYTES = 300_000
# csv refuses fields over 128 KiB by default; a description up to MAX_TEXT_BYTES must parse so
# that it is refused for its length, with that reason, not as "not a CSV line".
csv.field_size_limit(max(csv.field_size_limit(), 1 << 20))

_INVOICE_RE = re.compile(r"^[A-Za-z]?[0-9A-Za-z]{1,19}$")
_CUSTOMER_FLOAT_RE = re.compile(r"^(\d+)\.0*$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_PENNY = Decimal("0.01")


@dataclass(frozen=True, slots=True)  # slots: a 541,909-line run holds every line in memory
class OrderLine:
    invoice_no: str
    stock_code: str
    description: str
    quantity: int
    invoice_date: str  # ISO 8601, seconds, no offset: "2010-12-01T08:26:00"
    unit_price: Decimal
    customer_id: str | None
    country: str
    line_no: int
    emitted_at: str | None = None  # ISO 8601 with ms, UTC: "2026-11-28T04:29:05.123Z"

    @property
    def cancelled(self) -> bool:
        return self.invoice_no[:1] in ("C", "c")

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def partition_key(self) -> str:
        return schema.partition_key(self.customer_id, self.invoice_no)

    @property
    def sort_key(self) -> str:
        return schema.sort_key(self.invoice_date, self.invoice_no, self.line_no)

    @staticmethod
    def parse_sort_key(sort_key: str) -> tuple[str, str, int]:
        """(invoice_date, invoice_no, line_no) back out of a `sort_key`; RecordError if the
        text is not one."""
        try:
            return schema.parse_sort_key(sort_key)
        except schema.SortKeyError as error:
            raise RecordError(str(error)) from None

    def key(self) -> dict[str, dict[str, str]]:
        """The table key in DynamoDB's typed form."""
        return schema.key(self.partition_key, self.sort_key)


# ---------------------------------------------------------------------------------------------
# Normalisers: each takes what a file or the wire holds and returns the canonical value or
# raises RecordError naming the field.

def normalise_customer_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN: pandas' missing value
            return None
        if not value.is_integer():
            raise RecordError(f"CustomerID {value!r} is not a whole number")
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    match = _CUSTOMER_FLOAT_RE.match(text)
    if match:
        return match.group(1)
    if "#" in text or len(text) > 64 or any(c.isspace() for c in text):
        raise RecordError(f"CustomerID {text[:40]!r} is not a customer id")
    return text


def normalise_quantity(value: object) -> int:
    if isinstance(value, bool):
        raise RecordError("Quantity is not an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    if _INT_RE.match(text):
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite() and number == number.to_integral_value():
        return int(number)
    raise RecordError(f"Quantity {text[:40]!r} is not an integer")


def normalise_price(value: object) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip() if value is not None else ""
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise RecordError(f"UnitPrice {text[:40]!r} is not a decimal number") from None
    if not price.is_finite():
        raise RecordError(f"UnitPrice {text[:40]!r} is not a decimal number")
    # "1E+1" is ten: give it an exponent of zero so it prints without one.
    return price.quantize(Decimal(1)) if cast(int, price.as_tuple().exponent) > 0 else price


def money(value: Decimal) -> str:
    """An amount as text, exact, with at least pennies: DynamoDB keeps a number without its
    trailing zeros ("2.50" comes back "2.5", on AWS and in the emulator alike), and a price
    or a total reads in pennies. Finer amounts (a price of 0.001) keep every digit."""
    if cast(int, value.as_tuple().exponent) > -2:
        value = value.quantize(_PENNY)
    return format(value, "f")


def normalise_date(value: object) -> str:
    """ISO 8601 to the second, no offset (UTC if one was given)."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip() if value is not None else ""
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise RecordError(f"InvoiceDate {text[:40]!r} is not an ISO 8601 date") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def normalise_line_no(value: object) -> int:
    try:
        number = normalise_quantity(value)
    except RecordError:
        raise RecordError(f"LineNo {str(value)[:40]!r} is not a number") from None
    if number < 1 or number >= 10 ** LINE_NO_DIGITS:
        raise RecordError(f"LineNo {number} is out of range 1..{10 ** LINE_NO_DIGITS - 1}")
    return number


def _text(value: object, field: str, required: bool) -> str:
    text = "" if value is None else str(value)
    if isinstance(value, float) and value != value:
        text = ""
    if required and not text.strip():
        raise RecordError(f"{field} is missing")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise RecordError(f"{field} is longer than {MAX_TEXT_BYTES} bytes")
    # The limit holds for the escaped form too (an escape is at most four times its character),
    # so the line, even as CSVTOJSON's JSON, stays under Kinesis's 1 MiB record limit.
    if size > MAX_TEXT_BYTES // 4 and len(escape_text(text).encode("utf-8")) > MAX_TEXT_BYTES:
        raise RecordError(f"{field} is longer than {MAX_TEXT_BYTES} bytes as the log line "
                          "writes it (line breaks and control characters are escaped)")
    return text


def is_invoice_number(text: str) -> bool:
    """Whether the pipeline takes `text` as an invoice number (what `from_fields` checks)."""
    return bool(_INVOICE_RE.match(text))


def from_fields(fields: Mapping[str, object]) -> OrderLine:
    """Build a validated OrderLine from a mapping of column name to value (strings or typed)."""
    fields = {FIELD_ALIASES.get(k, k): v for k, v in fields.items()}
    invoice_no = _text(fields.get(INVOICE_NO), INVOICE_NO, True).strip()
    if not is_invoice_number(invoice_no):
        raise RecordError(f"InvoiceNo {invoice_no[:40]!r} is not an invoice number")
    given = fields.get(EMITTED_AT)
    emitted = str(given).strip() if given not in (None, "") else None
    return OrderLine(
        invoice_no=invoice_no,
        stock_code=_text(fields.get(STOCK_CODE), STOCK_CODE, True).strip(),
        description=_text(fields.get(DESCRIPTION), DESCRIPTION, False),
        quantity=normalise_quantity(fields.get(QUANTITY)),
        invoice_date=normalise_date(fields.get(INVOICE_DATE)),
        unit_price=normalise_price(fields.get(UNIT_PRICE)),
        customer_id=normalise_customer_id(fields.get(CUSTOMER_ID)),
        # The seed's Windows line ends left "\r" on the last column.
        country=_text(fields.get(COUNTRY), COUNTRY, False).rstrip("\r\n"),
        line_no=normalise_line_no(fields.get(LINE_NO)),
        emitted_at=emitted,
    )


# ---------------------------------------------------------------------------------------------
# The log line (CSV, RFC 4180) and the wire (log line or CSVTOJSON object).

_SURROGATE = re.compile("[\ud800-\udfff]")


def to_log_line(line: OrderLine) -> str:
    """One CSV line, without its terminator; text fields escaped, so it holds no line break."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([
        escape_text(line.invoice_no), escape_text(line.stock_code),
        escape_text(line.description), line.quantity, line.invoice_date,
        format(line.unit_price, "f"), escape_text(line.customer_id or ""),
        escape_text(line.country), line.line_no, line.emitted_at or "",
    ])
    return buffer.getvalue()


def split_csv_line(text: str, delimiter: str = ",") -> list[str]:
    """Fields of one RFC 4180 line (quotes, doubled quotes, delimiters inside quotes)."""
    text = text.rstrip("\r\n")
    rows = list(csv.reader([text], delimiter=delimiter, strict=True))
    return rows[0] if rows else []


def parse_log_line(text: str) -> OrderLine:
    try:
        values = split_csv_line(text)
    except csv.Error as error:
        raise RecordError(f"not a CSV line: {error}") from None
    if len(values) not in (len(LOG_COLUMNS), len(LOG_COLUMNS) - 1):
        raise RecordError(f"expected {len(LOG_COLUMNS)} CSV fields, found {len(values)}")
    return from_fields({name: unescape_text(value, name)
                        for name, value in zip(LOG_COLUMNS, values)})


def parse_json(text: str) -> OrderLine:
    try:
        obj = json.loads(text)
    except ValueError as error:
        raise RecordError(f"not valid JSON: {error}") from None
    if not isinstance(obj, dict):
        raise RecordError("JSON record is not an object")
    # CSVTOJSON copied the log line's fields as written: their text is still escaped.
    return from_fields({name: unescape_text(value, FIELD_ALIASES.get(name) or name)
                        if isinstance(value, str) else value for name, value in obj.items()})


def parse_wire(data: bytes) -> OrderLine:
    """Kinesis record data: the log line as written, or the JSON object CSVTOJSON made of it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordError(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    stripped = text.strip("\r\n")
    if not stripped.strip():
        raise RecordError("empty record")
    if stripped.lstrip().startswith("{"):
        return _storable(parse_json(stripped))
    if "\n" in stripped:
        raise RecordError("more than one line in one record")
    return _storable(parse_log_line(stripped))


def _storable(line: OrderLine) -> OrderLine:
    """A lone surrogate is a valid escape but no Unicode text: DynamoDB would refuse the whole
    batch it came in, so the line is refused alone, here."""
    for field, text in ((STOCK_CODE, line.stock_code), (DESCRIPTION, line.description),
                        (CUSTOMER_ID, line.customer_id or ""), (COUNTRY, line.country)):
        found = _SURROGATE.search(text)
        if found:
            raise RecordError(f"{field} holds a lone surrogate U+{ord(found.group()):04X} "
                              "(text that is not valid Unicode), which DynamoDB cannot store")
    return line


# ---------------------------------------------------------------------------------------------
# The table item (DynamoDB's typed form, as the low-level client speaks it).

def to_item(line: OrderLine, stored_at: str) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any]] = {
        **line.key(),
        INVOICE_NO: {"S": line.invoice_no},
        INVOICE_DATE: {"S": line.invoice_date},
        STOCK_CODE: {"S": line.stock_code},
        DESCRIPTION: {"S": line.description},
        QUANTITY: {"N": str(line.quantity)},
        UNIT_PRICE: {"N": format(line.unit_price, "f")},
        COUNTRY: {"S": line.country},
        LINE_NO: {"N": str(line.line_no)},
        CANCELLED: {"BOOL": line.cancelled},
        STORED_AT: {"S": stored_at},
    }
    if line.emitted_at:
        item[EMITTED_AT] = {"S": line.emitted_at}
    return item


def from_item(item: Mapping[str, Mapping[str, Any]]) -> OrderLine:
    def s(name: str) -> str | None:
        value = item.get(name)
        if value is None:
            return None
        # Whatever type the attribute was written with: an item is data, not our contract.
        text: str | None = value["S"] if "S" in value else value.get("N")
        return text

    return OrderLine(
        invoice_no=s(INVOICE_NO) or "",
        stock_code=s(STOCK_CODE) or "",
        description=s(DESCRIPTION) or "",
        quantity=int(s(QUANTITY) or 0),
        invoice_date=s(INVOICE_DATE) or "",
        unit_price=Decimal(s(UNIT_PRICE) or "0"),
        customer_id=schema.customer_of(s(schema.PARTITION_KEY) or ""),
        country=s(COUNTRY) or "",
        line_no=int(s(LINE_NO) or 0),
        emitted_at=s(EMITTED_AT),
    )


def utc_now_iso_ms() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
