"""`dataset info`: what a dataset file holds, counted over its normalised lines.

The figures come from the records the generator would emit (see table: the same
`records.from_fields` normalisation), so a row that info calls unreadable is a row the generator
would report, with the same reason. Each column is held as codes into its distinct values, so
a property of a value (is this price zero?) is decided once per value and counted with numpy.
"""
from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from ..schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    UNIT_PRICE,
)
from .bundled import bundled_dataset
from .loaders import gc_paused
from .sniff import DatasetError
from .table import load

# Stock codes that are not goods: postage, fees, manual lines, vouchers, samples, bad debt.
SPECIAL_CODES = ("POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK",
                 "PADS", "B")
SPECIAL_PREFIXES = ("gift_0001_", "DCGS")
MAX_PROBLEMS = 10


class LargestInvoice(TypedDict):
    invoice: str | None
    lines: int


class Descriptions(TypedDict):
    """Rows whose description is missing or holds what trips naive readers."""

    missing: int
    trailing_space: int
    leading_space: int
    comma: int
    double_quote: int
    apostrophe: int
    pound_sign: int


class Problem(TypedDict):
    line: int
    reason: str


class DatasetInfo(TypedDict):
    """`dataset info`'s figures. A TypedDict, not a dataclass: `--json` prints it as it is,
    keys in this order, and the panel lists its plain figures in the same order."""

    source: str
    form: dict  # how the file was read: its kind, encoding, date format, ...
    rows: int
    invoices: int
    customers: int
    repeat_customers: int
    guest_rows: int
    cancelled_invoices: int
    cancelled_rows: int
    first_date: str | None
    last_date: str | None
    duplicates: int
    negative_quantities: int
    zero_prices: int
    negative_prices: int
    stock_codes: int
    lowercase_stock_codes: int
    special_stock_codes: dict[str, int]
    bad_debt_invoices: list[str]
    countries: int
    top_countries: dict[str, int]
    largest_invoice: LargestInvoice
    invoices_with_two_dates: int
    descriptions: Descriptions
    unreadable_rows: int
    problems: list[Problem]


def _special(code: str) -> str | None:
    upper = code.upper()
    if upper in SPECIAL_CODES:
        return upper
    for prefix in SPECIAL_PREFIXES:
        if code.startswith(prefix):
            return prefix + "*"
    return None


def info(path: Path | None = None) -> DatasetInfo:
    """Counts over every row of the file at `path` (any supported form; the bundled dataset
    when None); dates are ISO 8601. Raises DatasetError when the file as a whole cannot be
    read."""
    path = Path(path) if path is not None else bundled_dataset()
    with gc_paused():
        return _info(path)


def _info(path: Path) -> DatasetInfo:
    import numpy as np

    table = load(path)
    if table.rows == 0:
        raise DatasetError(f"{path} has a header but no rows")
    codes, uniques = table.codes, table.uniques
    readable = len(table.line_nos)

    def per_value(field: str) -> np.ndarray:
        """Rows holding each distinct value of `field`."""
        return np.bincount(codes[field][codes[field] >= 0], minlength=len(uniques[field]))

    def rows_where(field: str, test) -> int:
        flags = np.fromiter((bool(test(v)) for v in uniques[field]), dtype=bool,
                            count=len(uniques[field]))
        return int(per_value(field)[flags].sum())

    def pairs(a: str, b: str) -> np.ndarray:
        """Distinct (a, b) code pairs, as the a of each; rows without an a are left out."""
        keep = codes[a] >= 0
        key = codes[a][keep] * (len(uniques[b]) + 1) + codes[b][keep] + 1
        return np.unique(key) // (len(uniques[b]) + 1)

    invoices, customers = uniques[INVOICE_NO], uniques[CUSTOMER_ID]
    per_invoice = per_value(INVOICE_NO)
    cancelled = np.fromiter((i[:1] in ("C", "c") for i in invoices), dtype=bool,
                            count=len(invoices))
    invoices_per_customer = np.bincount(pairs(CUSTOMER_ID, INVOICE_NO),
                                        minlength=len(customers))
    dates_per_invoice = np.bincount(pairs(INVOICE_NO, INVOICE_DATE), minlength=len(invoices))
    dates = [d for d, n in zip(uniques[INVOICE_DATE], per_value(INVOICE_DATE)) if n]
    countries = sorted(zip(uniques[COUNTRY], per_value(COUNTRY).tolist()),
                       key=lambda kv: -kv[1])
    stock = per_value(STOCK_CODE)
    specials: dict[str, int] = {}
    for code, n in zip(uniques[STOCK_CODE], stock.tolist()):
        kind = _special(code)
        if kind and n:
            specials[kind] = specials.get(kind, 0) + n
    every = np.stack([codes[f] for f in codes], axis=1) if readable else np.empty((0, 8))
    biggest = int(per_invoice.argmax()) if len(per_invoice) else None
    return DatasetInfo(**{
        "source": str(path),
        "form": table.form,
        "rows": table.rows,
        "invoices": int((per_invoice > 0).sum()),
        "customers": int((per_value(CUSTOMER_ID) > 0).sum()),
        "repeat_customers": int((invoices_per_customer >= 2).sum()),
        "guest_rows": int((codes[CUSTOMER_ID] < 0).sum()),
        "cancelled_invoices": int(((per_invoice > 0) & cancelled).sum()),
        "cancelled_rows": int(per_invoice[cancelled].sum()),
        "first_date": min(dates) if dates else None,
        "last_date": max(dates) if dates else None,
        "duplicates": readable - len(np.unique(every, axis=0)) if readable else 0,
        "negative_quantities": rows_where(QUANTITY, lambda q: q < 0),
        "zero_prices": rows_where(UNIT_PRICE, lambda p: p == 0),
        "negative_prices": rows_where(UNIT_PRICE, lambda p: p < 0),
        "stock_codes": int((stock > 0).sum()),
        "lowercase_stock_codes": rows_where(STOCK_CODE, lambda c: c != c.upper()),
        "special_stock_codes": dict(sorted(specials.items(), key=lambda kv: -kv[1])),
        "bad_debt_invoices": sorted(str(i) for i, n in zip(invoices, per_invoice)
                                    if n and i[:1] in ("A", "a")),
        "countries": sum(1 for _, n in countries if n),
        "top_countries": {str(c): int(n) for c, n in countries[:5]},
        "largest_invoice": LargestInvoice(
            invoice=None if biggest is None else str(invoices[biggest]),
            lines=0 if biggest is None else int(per_invoice[biggest])),
        "invoices_with_two_dates": int((dates_per_invoice > 1).sum()),
        "descriptions": Descriptions(**{
            "missing": rows_where(DESCRIPTION, lambda d: not d.strip()),
            "trailing_space": rows_where(DESCRIPTION, lambda d: d.strip() and d[-1] == " "),
            "leading_space": rows_where(DESCRIPTION, lambda d: d.strip() and d[0] == " "),
            "comma": rows_where(DESCRIPTION, lambda d: "," in d),
            "double_quote": rows_where(DESCRIPTION, lambda d: '"' in d),
            "apostrophe": rows_where(DESCRIPTION, lambda d: "'" in d),
            "pound_sign": rows_where(DESCRIPTION, lambda d: "£" in d),
        }),
        "unreadable_rows": len(table.problems),
        "problems": [Problem(line=n, reason=reason)
                     for n, reason in table.problems[:MAX_PROBLEMS]],
    })
