"""Sizes and keys: what DynamoDB counts and how it stores numbers, and the sizes in moto's own
units that moto's paging decisions use. No moto imports at module level, no emulator imports:
everything above builds on this.

AWS's rules (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
CapacityUnitCalculations.html and ServiceQuotas.html): an item is at most 400 KB = 409,600
bytes, the sum over its attributes of the name's UTF-8 bytes plus the value's size - a
string its UTF-8 bytes, a binary its raw bytes, a number 1 byte per two significant digits
plus 1, a boolean or null 1, a list or map 3 bytes plus 1 byte and the size of each element
(a map's element counting its name too), a set the sum of its members. Numbers have at most
38 significant digits, magnitudes 1E-130 to 9.99...E+125, and are stored normalised: no
exponent, no leading or trailing zeros ("0.10" is kept as "0.1", "1e2" as "100").
"""
from __future__ import annotations

import base64
import binascii
import re
from decimal import Context, Decimal, InvalidOperation

from orderhist.errors import UsageProblem

ITEM_SIZE_LIMIT = 400 * 1024
MAX_DIGITS = 38
# A number already in DynamoDB's stored form: no sign on zero, no leading zeros, no trailing
# zeros after the point, no exponent. Most numbers on the wire are; they skip Decimal.
_CANONICAL = re.compile(r"(?:0|-?[1-9][0-9]*)(?:\.[0-9]*[1-9])?\Z|-?0\.[0-9]*[1-9]\Z")


# Exact: the default context's 28 digits would round a 38-digit number before it is counted.
_EXACT = Context(prec=400, Emax=999_999, Emin=-999_999)


class NumberError(UsageProblem):  # a ValueError too: size checks catch that
    """A number DynamoDB refuses; the message is AWS's."""


def text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def normal_number(text: str) -> str:
    """The number as DynamoDB stores and returns it; NumberError if DynamoDB refuses it."""
    # (38 characters cannot hold more than 38 digits: the count is needed only past that.)
    if _CANONICAL.match(text) and (len(text) <= MAX_DIGITS or len(text) <= MAX_DIGITS + 2
                                   and _digits(text) <= MAX_DIGITS):
        return text
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise NumberError(
            f"The parameter cannot be converted to a numeric value: {text}") from None
    # Python reads "1_000" and " 1"; DynamoDB does not.
    if not value.is_finite() or text != text.strip() or "_" in text:
        raise NumberError(
            f"The parameter cannot be converted to a numeric value: {text}") from None
    if value.is_zero():
        return "0"
    value = value.normalize(_EXACT)
    sign, digits, exponent = value.as_tuple()
    if len(digits) > MAX_DIGITS:
        raise NumberError("Attempting to store more than 38 significant digits in a Number")
    magnitude = value.adjusted()
    if magnitude > 125:
        raise NumberError("Number overflow. Attempting to store a number with magnitude "
                          "larger than supported range")
    if magnitude < -130:
        raise NumberError("Number underflow. Attempting to store a number with magnitude "
                          "smaller than supported range")
    return format(value, "f")


def _digits(canonical: str) -> int:
    """Significant digits of a number in stored form."""
    body = canonical.lstrip("-").replace(".", "").lstrip("0")
    return len(body.rstrip("0")) if "." not in canonical else len(body)


def number_size(canonical: str) -> int:
    """AWS's size of a stored number: 1 byte per two significant digits, plus 1."""
    body = canonical.lstrip("-").replace(".", "").strip("0")
    return (len(body) + 1) // 2 + 1


def _binary_size(value) -> int:
    if type(value) is bytes:
        return len(value)
    try:
        return len(base64.b64decode(value))
    except (binascii.Error, TypeError, ValueError):
        return len(str(value))


def _typed_size(kind: str, value, member_size) -> int:
    """AWS's size of a value of `kind`; `member_size` measures a list's or map's members."""
    if kind == "S":
        return text_size(value)
    if kind == "N":
        return number_size(value)
    if kind == "B":
        return _binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(text_size(member) for member in value)
    if kind == "NS":
        return sum(number_size(member) for member in value)
    if kind == "BS":
        return sum(_binary_size(member) for member in value)
    if kind == "L":
        return 3 + sum(1 + member_size(member) for member in value)
    if kind == "M":
        return 3 + sum(1 + text_size(name) + member_size(member)
                       for name, member in value.items())
    return 0


def wire_size(raw) -> int:
    """AWS's size of an attribute value in wire form ({"S": ...}), name not included.
    Numbers are measured as given; they are normalised before this is asked."""
    (kind, value), = raw.items()
    return _typed_size(kind, value, wire_size)


def wire_item_size(item: dict) -> int:
    return sum(text_size(name) + wire_size(raw) for name, raw in item.items())


def stored_size(dt) -> int:
    """AWS's size of a moto DynamoType (what UpdateItem builds), name not included."""
    return _typed_size(dt.type, dt.value, stored_size)


def stored_item_size(attrs) -> int:
    return sum(text_size(name) + stored_size(dt) for name, dt in attrs.items())


# moto's own units (DynamoType.size(): a number's characters, no list or map overhead): what
# moto's Query pages on against its 1 MB result limit, so the fast Query must count the same.

def value_size(dt) -> int:
    """DynamoType.size(), quicker for the scalar types."""
    kind, value = dt.type, dt.value
    if kind == "S" and type(value) is str:
        return text_size(value)
    if kind == "N" and type(value) is str:
        return len(value)
    if type(value) is bool:
        return 1
    return dt.size()


def item_size(item) -> int:
    return sum(text_size(key) + value_size(value) for key, value in item.attrs.items())
