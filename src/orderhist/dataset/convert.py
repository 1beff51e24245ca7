"""Any dataset form to the one the generator streams fastest: a UTF-8 CSV with ISO dates.

`dataset download` keeps the UCI workbook this way, so later runs neither unzip XML nor import
pandas. Rows keep their order and so their numbers (the lines' identity): a row that could not
be read is written as it was found, to be reported again, never dropped.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from ..schema import DATASET_COLUMNS
from .loaders import gc_paused, read_raw
from .table import normalise_columns


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def convert(source: Path, out: Path) -> dict:
    """Write `source` (any supported form) to `out` as a normalised UTF-8 CSV; returns
    {"rows", "unreadable_rows"}. The file appears whole or not at all."""
    out = Path(out)
    with gc_paused():
        raw = read_raw(Path(source))
        count = len(raw.line_nos)
        normalised, bad = normalise_columns(raw, count)
    columns = [normalised[f] for f in DATASET_COLUMNS]
    raw_columns = [raw.columns.get(f) for f in DATASET_COLUMNS]
    structural = {n for n, _ in raw.problems}
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DATASET_COLUMNS)
        position = 0
        for line_no in range(1, raw.rows + 1):
            if line_no in structural:
                # Keeps its place; read back as missing.
                writer.writerow([""] * len(DATASET_COLUMNS))
                continue
            if bad[position]:
                writer.writerow([_cell(c[position]) if c is not None else "" for c in raw_columns])
            else:
                inv, code, desc, qty, when, price, customer, country = (c[position]
                                                                        for c in columns)
                writer.writerow((inv, code, desc, qty, when, format(price, "f"),
                                 customer or "", country))
            position += 1
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(out)
    return {"rows": raw.rows, "unreadable_rows": int(bad.sum()) + len(structural)}
