"""What a file is, decided from its bytes: container, text encoding, delimiter, date order.

Every decision is made from content, never from the file name, and the ones that need the
whole file (the encoding, the order of day and month) look at the whole file.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import UsageProblem
from ..records import RecordError
from ..schema import CUSTOMER_ID, DATASET_COLUMNS, DESCRIPTION, INVOICE_NO, UNIT_PRICE


class DatasetError(UsageProblem):
    """The file as a whole cannot be read as a dataset (exit 2 with this one line)."""


PARQUET, XLSX, CSV = "parquet", "xlsx", "csv"


def _spelling(name) -> str:
    """A column name reduced to lowercase letters and digits: how names are compared."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


# Column names as they are spelled in the wild: each column's own, and the other names Online
# Retail II and exports give them.
COLUMN_ALIASES = {
    **{_spelling(column): column for column in DATASET_COLUMNS},
    "invoice": INVOICE_NO, "invoicenumber": INVOICE_NO, "price": UNIT_PRICE,
    "customer": CUSTOMER_ID,
}
REQUIRED = tuple(c for c in DATASET_COLUMNS if c != DESCRIPTION)


def canonical_column(name) -> str | None:
    return COLUMN_ALIASES.get(_spelling(name))


def map_header(names, source: Path | str = "the file") -> dict[str, int]:
    """Canonical column name -> position; extra columns (a pandas index, totals) are ignored."""
    positions: dict[str, int] = {}
    for n, name in enumerate(names):
        canonical = canonical_column(name)
        if canonical and canonical not in positions:
            positions[canonical] = n
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        shown = ", ".join(str(n) for n in list(names)[:10]) or "nothing"
        raise DatasetError(
            f"{source} has no {', '.join(missing)} column (its header is: {shown[:200]}); "
            "expected the UCI Online Retail columns")
    return positions


def container(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist; give the path of a dataset file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a directory; give the path of a dataset file") from None
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror}") from None
    if not head:
        raise DatasetError(f"{path} is empty; a dataset needs a header and rows")
    if head.startswith(b"PAR1"):
        return PARQUET
    if head.startswith(b"PK\x03\x04"):
        return XLSX
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DatasetError(f"{path} is an old Excel (.xls) workbook; save it as .xlsx or CSV")
    if head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ"):
        raise DatasetError(f"{path} is compressed; unpack it first")
    return CSV


@dataclass(frozen=True)
class TextForm:
    encoding: str
    delimiter: str
    day_first: bool
    blank_lines: bool  # without any, rows can be skipped without looking at each


_C1_BYTES = bytes(range(0x80, 0xA0))


def detect_encoding(data: bytes, path: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    # Nearly every binary file is full of NUL bytes; a text file has none, or a stray one in a
    # value, which is then that row's business (the CSV reader keeps it), not the whole file's.
    if data.count(b"\x00") * 100 > len(data):
        raise DatasetError(f"{path} is a binary file, not a CSV, xlsx or parquet dataset")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Bytes 0x80-0x9F are printable in cp1252 (curly quotes, the euro) but control
    # characters in Latin-1; a file that uses them means cp1252 unless cp1252 cannot map one.
    if len(data.translate(None, _C1_BYTES)) != len(data):
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    # Without those bytes the two agree on every character.
    return "cp1252"


def detect_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# A date of the form a/b/yyyy (or a-b-yyyy, a.b.yyyy) followed by a time, at the start of a
# field. The leading delimiter is spelled out, not looked behind for, and there is no "^": that
# lets the regex engine jump between candidate characters, five times faster on a 45 MB file.
_FIELD_START = rb"[,;\t|\"'\n]"
_DATE_TAIL = rb"[/.-]\d{2,4}[ T]+\d{1,2}:\d\d"
_OVER_12 = rb"(?:1[3-9]|2\d|3[01])"
_WITNESS = re.compile(
    _FIELD_START + rb"(?:(?P<day>" + _OVER_12 + rb"[/.-]\d{1,2})|(?P<month>\d{1,2}[/.-]"
    + _OVER_12 + rb"))" + _DATE_TAIL)
_ONLY = {
    True: re.compile(_FIELD_START + _OVER_12 + rb"[/.-]\d{1,2}" + _DATE_TAIL),
    False: re.compile(_FIELD_START + rb"\d{1,2}[/.-]" + _OVER_12 + _DATE_TAIL),
}
_ANY_NUMERIC_DATE = re.compile(_FIELD_START + rb"(\d{1,2}[/.-]\d{1,2}" + _DATE_TAIL + rb")")


def decide_day_first(data: bytes, path: Path, thorough: bool = False) -> bool:
    """Whether a/b/yyyy dates are day/month. A day above 12 in first place proves it, in second
    place disproves it; the first such witness decides. `thorough` also looks through the rest
    of the file for a witness of the other form: a file that mixes both cannot be read right,
    and says so (the streaming reader skips that scan to start fast; a row that then does not
    make a date under the chosen form is reported as unreadable, not misread)."""
    first = _WITNESS.search(data)
    if first is None:
        return _order_evidence(data)
    day_first = first.group("day") is not None
    if thorough:
        other = _ONLY[not day_first].search(data, first.end())
        if other is not None:
            a, b = (first, other) if day_first else (other, first)
            raise DatasetError(
                f"{path} mixes day-first ({a.group().decode(errors='replace')!r}) and "
                f"month-first ({b.group().decode(errors='replace')!r}) dates; "
                "fix the file's dates to one form")
    return day_first


def _order_evidence(data: bytes) -> bool:
    """No day above 12 anywhere (a file of a few days or weeks): prefer the reading under which
    the rows run forward in time (the real file and its copies are sorted by invoice), then
    the one that spans less time (rows of one file sit close together). A full tie (one
    date only, say) goes to the month-first form of the UCI/Kaggle exports."""
    dates = _ANY_NUMERIC_DATE.findall(data[:20_000_000])
    if not dates:
        return False
    scores = {}
    for day_first in (True, False):
        keys = []
        for raw in dates[:200_000]:
            a, b, rest = re.split(rb"[/.-]", raw, maxsplit=2)
            year = int(rest.split()[0][:4])
            day, month = (a, b) if day_first else (b, a)
            keys.append(year * 400 + int(month) * 32 + int(day))
        backwards = sum(1 for x, y in zip(keys, keys[1:]) if y < x)
        scores[day_first] = (backwards, max(keys) - min(keys))
    return scores[True] < scores[False]


def sniff_text(path: Path, thorough: bool = False) -> TextForm:
    data = path.read_bytes()
    encoding = detect_encoding(data, path)
    first = data[:4096].decode(encoding, errors="replace").lstrip("\ufeff").splitlines()
    if not first or not first[0].strip():
        raise DatasetError(f"{path} has no header line; expected the UCI Online Retail columns")
    if encoding == "utf-16":
        data = data.decode("utf-16").encode("utf-8")
    blank = b"\n\n" in data or b"\n\r\n" in data or b"\r\r" in data
    return TextForm(encoding, detect_delimiter(first[0]),
                    decide_day_first(data, path, thorough), blank)


_DATE_RE = re.compile(
    r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T]+(\d{1,2}):(\d\d)(?::(\d\d))?)?\s*$")


class DateReader:
    """Turns a date field into ISO 8601 text; the real file has only ~23,000 distinct dates,
    so each is worked out once."""

    def __init__(self, day_first: bool):
        self.day_first = day_first
        self.cache: dict[str, str] = {}

    def __call__(self, text: str | None) -> str:
        if text is None or not str(text).strip():
            raise RecordError("InvoiceDate is missing")
        known = self.cache.get(text)
        if known is not None:
            return known
        iso = self._convert(text)
        if len(self.cache) < 500_000:
            self.cache[text] = iso
        return iso

    def _convert(self, text: str) -> str:
        match = _DATE_RE.match(text)
        if not match:
            # ISO 8601 and whatever else records' normaliser accepts, or its clear error.
            return text
        a, b, year, hour, minute, second = match.groups()
        day, month = (a, b) if self.day_first else (b, a)
        year = int(year) + (2000 if len(year) == 2 else 0)
        try:
            moment = datetime(year, int(month), int(day), int(hour or 0), int(minute or 0),
                              int(second or 0))
        except ValueError:
            order = "day/month" if self.day_first else "month/day"
            raise RecordError(
                f"InvoiceDate {text.strip()[:40]!r} is not a date (read as {order}/year)"
            ) from None
        return moment.isoformat(timespec="seconds")


def canonical_columns(names: Iterable, data: dict, path: Path) -> dict[str, Sequence]:
    """A column-wise file's columns under the dataset's own names, from its header."""
    positions = map_header(list(names), path)
    by_position = list(data.values())
    return {name: by_position[n] for name, n in positions.items()}
