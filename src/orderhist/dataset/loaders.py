"""Readers that turn a dataset file, in any common form, into numbered order lines.

Every form ends in `records.from_fields`, so a line reads the same whether it came from the
UCI xlsx, a Kaggle CSV or a pandas parquet. A row that cannot be read becomes a RecordError in
its place: nothing is dropped, and the numbering never shifts.
"""
from __future__ import annotations

import csv
import gc
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import count, islice
from pathlib import Path

from .. import records
from ..records import OrderLine, RecordError
from ..schema import DATASET_COLUMNS, INVOICE_DATE, INVOICE_NO, LINE_NO, STOCK_CODE
from . import sniff
from .parquet import read_parquet_columns
from .sniff import DatasetError

Item = tuple[int, "OrderLine | RecordError"]

# Excel's day zero in the 1900 date system (with its leap-year bug folded in).
_EXCEL_EPOCH = datetime(1899, 12, 30)


@dataclass
class Raw:
    """A whole file's readable rows as raw columns, before any record is built."""
    form: dict
    columns: dict[str, Sequence]  # canonical column -> one value per readable row
    line_nos: list[int]           # the data-row number of each readable row
    problems: list[tuple[int, RecordError]]  # rows that could not even be split into fields
    rows: int                     # every data row, readable or not
    dates: Callable               # a raw InvoiceDate -> datetime or ISO text; RecordError


def iter_lines(path: Path, start: int = 0) -> Iterator[Item]:
    """(line_no, OrderLine or RecordError) for every data row after the first `start`, in file
    order; line_no is the 1-based data-row number. Raises DatasetError at once when the file as
    a whole cannot be read (missing, empty, binary, no header, a required column missing)."""
    return open_lines(path, start)[1]


def open_lines(path: Path, start: int = 0, thorough: bool = False) -> tuple[dict, Iterator[Item]]:
    """What the file was found to be ({"container", "encoding", "dates", ...}), and its lines.
    `thorough` reads the whole file for evidence before the first line (see sniff)."""
    path = Path(path)
    if sniff.container(path) == sniff.CSV:
        form, positions, width, rows = _stream_csv(path, max(0, start), thorough)
        dates = sniff.DateReader(form["dates"] == "day/month")

        def lines():
            for line_no, row in rows:
                yield line_no, row if isinstance(row, RecordError) else \
                    _record(row, positions, line_no, dates)
        return form, lines()
    raw = read_raw(path)
    return raw.form, _iter_columns(raw, max(0, start))


def read_raw(path: Path, thorough: bool = True) -> Raw:
    """The whole file as raw columns (for bulk work: `info`, conversions)."""
    path = Path(path)
    kind = sniff.container(path)
    if kind == sniff.PARQUET:
        columns = read_parquet_columns(path)
    elif kind == sniff.XLSX:
        columns = read_xlsx_columns(path)
    else:
        # The bytes' first witness is enough to stream; a bulk read has the date column to
        # itself and decides from all of its distinct values (mixed forms are refused there).
        form, positions, width, handle, reader = _open_csv(path, False)
        form.pop("blank_lines")
        with handle:
            rows, problems = _bulk_csv(reader, width)
        count = len(rows) + len(problems)
        bad = {n for n, _ in problems}
        line_nos = [n for n in range(1, count + 1) if n not in bad] if bad else \
            list(range(1, count + 1))
        wanted = sorted(positions.items(), key=lambda item: item[1])
        transposed = list(zip(*rows)) if rows else [()] * width
        columns = {name: transposed[n] for name, n in wanted}
        dates = date_converter(columns[INVOICE_DATE], thorough, path)
        form["dates"] = "day/month" if dates.day_first else "month/day"
        return Raw(form, columns, line_nos, problems, count, dates)
    count = len(columns[INVOICE_NO])
    return Raw({"container": kind}, columns, list(range(1, count + 1)), [], count,
               date_converter(columns[INVOICE_DATE], thorough, path))


# -- CSV: streamed, standard library only (the generator reads it on every run) ----------------

def _open_csv(path: Path, thorough: bool):
    form = sniff.sniff_text(path, thorough)
    handle = open(path, encoding=form.encoding, newline="")
    try:
        reader = csv.reader(handle, delimiter=form.delimiter)
        try:
            header = next(reader)
        except (StopIteration, csv.Error):
            header = []
        positions = sniff.map_header(header, path)
    except BaseException:
        handle.close()
        raise
    found = {"container": sniff.CSV, "encoding": form.encoding, "delimiter": form.delimiter,
             "dates": "day/month" if form.day_first else "month/day",
             "blank_lines": form.blank_lines}
    return found, positions, len(header), handle, reader


def _stream_csv(path: Path, start: int, thorough: bool):
    form, positions, width, handle, reader = _open_csv(path, thorough)
    skipped = 0
    if start and not form.pop("blank_lines"):
        # Counting rows needs the CSV grammar (a quoted field may hold a newline), not the
        # records: skip at the C reader's own speed. A malformed row on the way sends us back
        # to the careful count, from the top.
        try:
            counter = count()
            deque(zip(islice(reader, start), counter), maxlen=0)
            skipped, start = next(counter), 0
        except csv.Error:
            handle.seek(0)
            reader = csv.reader(handle, delimiter=form["delimiter"])
            next(reader)
    form.pop("blank_lines", None)
    return form, positions, width, _csv_rows(handle, reader, width, start, skipped)


@contextmanager
def gc_paused():
    """Bulk loads keep millions of small objects; the cyclic GC would re-scan all of them
    every few thousand allocations and triple the time. None of them form cycles."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _bulk_csv(reader, width) -> tuple[list, list[tuple[int, RecordError]]]:
    """All rows at once, by the same rules as _csv_rows, in one tight loop."""
    rows: list = []
    problems: list[tuple[int, RecordError]] = []
    keep = rows.append
    line_no = 0
    with gc_paused():
        while True:
            try:
                for row in reader:
                    if not row:
                        continue
                    line_no += 1
                    size = len(row)
                    if size == width or (size > width and not any(v.strip() for v in row[width:])):
                        keep(row)
                    elif size < width:
                        problems.append((line_no, RecordError(
                            f"row is short: {size} of {width} fields ({','.join(row)[:60]!r})")))
                    else:
                        problems.append((line_no, RecordError(
                            f"row has {size} fields, the header {width} (an unquoted delimiter?)")))
                break
            except csv.Error as error:
                line_no += 1
                problems.append((line_no, RecordError(f"not a CSV row: {error}")))
    if problems and problems[-1][0] == line_no and str(problems[-1][1]).startswith("row is short"):
        last = str(problems[-1][1]).replace("row is short", "the file ends inside this row", 1)
        problems[-1] = (line_no, RecordError(last))
    return rows, problems


def _csv_rows(handle, reader, width, start, line_no) -> Iterator[tuple[int, list | RecordError]]:
    """(line_no, fields or RecordError): the rows as the CSV grammar splits them."""
    with handle:
        if start:
            for _ in _rows(reader):
                line_no += 1
                if line_no >= start:
                    break
        rows = _rows(reader)
        row = next(rows, None)
        while row is not None:
            line_no += 1
            if isinstance(row, RecordError):
                yield line_no, row
            elif len(row) < width:
                # A short row that is also the file's last is a file cut off mid-write.
                following = next(rows, None)
                where = "the file ends inside this row" if following is None else "row is short"
                yield line_no, RecordError(
                    f"{where}: {len(row)} of {width} fields ({','.join(row)[:60]!r})")
                row = following
                continue
            elif len(row) > width and any(v.strip() for v in row[width:]):
                yield line_no, RecordError(
                    f"row has {len(row)} fields, the header {width} (an unquoted delimiter?)")
            else:
                yield line_no, row
            row = next(rows, None)


def _rows(reader) -> Iterator[list[str] | RecordError]:
    """The reader's rows without blank lines; a malformed row becomes a RecordError."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RecordError(f"not a CSV row: {error}")
            continue
        if row:
            yield row


def _record(row, positions, line_no, dates) -> OrderLine | RecordError:
    # A column the header lacks is one sniff lets be missing: read as empty.
    fields = {name: row[positions[name]] if name in positions else ""
              for name in DATASET_COLUMNS}
    try:
        fields[INVOICE_DATE] = dates(fields[INVOICE_DATE])
        fields[LINE_NO] = line_no
        return records.from_fields(fields)
    except RecordError as error:
        return error


# -- parquet and xlsx: whole columns, then the same record builder -----------------------------

def read_xlsx_columns(path: Path) -> dict[str, Sequence]:
    """The first sheet's columns; the UCI workbook has one sheet, Online Retail II's first
    sheet is its first year."""
    from .xlsx import read_first_sheet

    _, rows = read_first_sheet(path)
    if not rows:
        raise DatasetError(f"{path} has an empty first sheet; expected a header row")
    header = ["" if h is None else h for h in rows[0]]
    positions = sniff.map_header(header, path)
    width = max(positions.values()) + 1
    with gc_paused():
        for row in rows:
            if len(row) < width:
                row.extend([None] * (width - len(row)))
        return {name: [row[n] for row in rows[1:]] for name, n in positions.items()}


def text_cell(value):
    """Numbers where a code belongs (536365 read as 536365.0) go back to their digits."""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return "" if value is None else value


def cell_reader(field: str, raw: Raw):
    """What a raw cell of the column goes through before `records.from_fields`, if anything:
    a code read as a number back to its digits, a date in the file's own form to ISO."""
    if field in (INVOICE_NO, STOCK_CODE):
        return text_cell
    if field == INVOICE_DATE:
        return raw.dates
    return None


def _distinct(values) -> list:
    if hasattr(values, "unique"):
        if str(getattr(values, "dtype", "")).startswith("datetime"):
            return []  # real timestamps: nothing to decide
        return list(values.unique())
    return list(dict.fromkeys(v for v in values if isinstance(v, str)))


def date_converter(values, thorough: bool = True, path: Path | None = None):
    """A raw date cell -> datetime or ISO text. Dates held as text decide their day/month
    order from the column's distinct values, in order of first appearance."""
    text = [v for v in _distinct(values) if isinstance(v, str)]
    day_first = False
    if text:
        sample = ("\n" + "\n".join(text)).encode("utf-8", "replace")
        day_first = sniff.decide_day_first(sample, path or Path("the file"), thorough)
    reader = sniff.DateReader(day_first)

    def convert(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise RecordError("InvoiceDate is missing")
        if isinstance(value, datetime):
            if value != value:  # NaT
                raise RecordError("InvoiceDate is missing")
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # A date cell without a date format: Excel's serial day number, whose float noise
            # is rounded off to the second.
            moment = _EXCEL_EPOCH + timedelta(days=float(value), microseconds=500_000)
            return moment.replace(microsecond=0)
        return reader(str(value))
    # What the converter decided, for the form it reports: an attribute of the function.
    convert.day_first = day_first  # type: ignore[attr-defined]
    return convert


def as_list(values, first: int = 0, end: int | None = None) -> list:
    """Positions first..end of a column (a pandas Series or a list) as a list."""
    if hasattr(values, "iloc"):
        return values.iloc[first:end].tolist()
    return list(values[first:end])


# Rows turned into Python values at a time: a run that wants 50 lines of a 541,909-row file
# converts 50 of each column, not all of them, and a whole run holds one chunk at a time.
ROW_CHUNK = 10_000


def _iter_columns(raw: Raw, start: int) -> Iterator[Item]:
    columns = raw.columns
    preparers = [(n, p) for n in DATASET_COLUMNS if (p := cell_reader(n, raw)) is not None]
    total = len(raw.line_nos)
    for first in range(start, total, ROW_CHUNK):
        end = min(first + ROW_CHUNK, total)
        lists = [as_list(columns[n], first, end) if n in columns else [""] * (end - first)
                 for n in DATASET_COLUMNS]
        for line_no, values in zip(raw.line_nos[first:end], zip(*lists)):
            fields = dict(zip(DATASET_COLUMNS, values))
            try:
                for name, prepare in preparers:
                    fields[name] = prepare(fields[name])
                fields[LINE_NO] = line_no
                yield line_no, records.from_fields(fields)
            except RecordError as error:
                yield line_no, error
