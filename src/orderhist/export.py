"""`orders --csv`: one row per order line, safe to open in a spreadsheet.

Descriptions are whatever a dataset held, so a cell can start like a formula
(`=HYPERLINK(...)`, `+SUM(...)`, `@cmd`) that Excel or LibreOffice would run when the file
is opened, or carry terminal escape sequences (ESC) that act when the file is `cat`. As
OWASP's CSV-injection guidance says, every text cell is quoted and one that starts with
= + - @, a tab or a carriage return gets a leading ' (shown by spreadsheets as text, not
evaluated); a line feed joins that list (a cell may hold line breaks, and one that starts
with a break hides what follows it). Other control characters are shown as \\x.. escapes.
Numbers (line, quantity, unit price, amount) are written as numbers, so a refund's -5 or
-1.25 stays a negative number, not a neutralised text. `--json` keeps the exact text.

No rich here, so `orders --csv` starts as fast as `--json`.
"""
from __future__ import annotations

import re
from typing import TextIO

from orderhist.records import money

HEADER = ("customer", "invoice", "date", "cancelled", "country", "line", "stock_code",
          "description", "quantity", "unit_price", "amount")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# C0 controls but tab, LF and CR (which a quoted CSV cell carries as they are), DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_cell(value) -> str:
    """A text value as one quoted CSV cell, neutralised for spreadsheets and terminals."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", "" if value is None else str(value))
    if text.startswith(FORMULA_START):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


def number_cell(value) -> str:
    return str(value)


def write_orders_csv(history, out: TextIO) -> None:
    """Rows of RFC 4180 CSV (quoted text, bare numbers), newest order first."""
    out.write(",".join(HEADER) + "\n")
    for order in history.orders:
        for line in order.lines:
            out.write(",".join((
                text_cell(history.customer), text_cell(order.invoice), text_cell(order.date),
                text_cell(order.cancelled), text_cell(order.country),
                number_cell(line.line_no), text_cell(line.stock_code),
                text_cell(line.description), number_cell(line.quantity),
                number_cell(money(line.unit_price)), number_cell(money(line.amount)),
            )) + "\n")
