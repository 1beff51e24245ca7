"""A whole dataset as one normalised DataFrame, fast enough for the full 541,909-row file.

Building an OrderLine per row costs ~15 µs; the file has only ~65,000 distinct field values.
`records.from_fields` normalises each field on its own, so each distinct value is put through
it once, inside an otherwise valid probe row, and the answer is spread to every row that holds
it. The result is what `from_fields` gives row by row, by construction, not a second copy of its
rules. A row with any unreadable field is then built whole, for `from_fields`' own reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import records
from ..records import RecordError
from ..schema import (
    COUNTRY,
    CUSTOMER_ID,
    DATASET_COLUMNS,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    LINE_NO,
    QUANTITY,
    STOCK_CODE,
    UNIT_PRICE,
)
from .loaders import Raw, cell_reader, gc_paused, read_raw

if TYPE_CHECKING:
    import numpy as np

_PROBE = {
    INVOICE_NO: "1", STOCK_CODE: "X", DESCRIPTION: "", QUANTITY: "1",
    INVOICE_DATE: "2000-01-01T00:00:00", UNIT_PRICE: "1", CUSTOMER_ID: "", COUNTRY: "",
    LINE_NO: 1,
}


@dataclass
class Table:
    """The readable rows, each column held as codes into its distinct normalised values
    (-1 for none: a guest's CustomerID). Counting over codes is what makes `info` fast."""
    form: dict
    line_nos: np.ndarray      # numpy int64 array: each readable row's number
    codes: dict               # field -> numpy int64 array, one code per readable row
    uniques: dict             # field -> numpy object array of distinct normalised values
    problems: list[tuple[int, str]]  # (line_no, reason) for every unreadable row
    rows: int                 # every data row
    _frame: object = None

    @property
    def frame(self):
        """The readable rows as a pandas DataFrame: LineNo, then the eight columns."""
        if self._frame is None:
            import numpy as np
            import pandas as pd

            data = {LINE_NO: self.line_nos}
            for field in DATASET_COLUMNS:
                values = self.uniques[field]
                # The last slot answers for -1.
                data[field] = np.append(values, None)[self.codes[field]] if len(values) else \
                    np.full(len(self.line_nos), None, dtype=object)
            frame = pd.DataFrame(data)
            frame[QUANTITY] = frame[QUANTITY].astype(np.int64)
            self._frame = frame
        return self._frame


def _factorised(raw: Raw, count: int):
    """({field: per-row codes}, {field: normalised value per code}, per-row unreadable flags).

    Distinct values of all fields ride in the same probe rows, one of each per row, so the
    number of from_fields calls is the largest distinct count (~26,000 invoices), not the sum.
    A probe that fails is redone one field at a time to find which value is at fault."""
    import numpy as np
    import pandas as pd

    codes, distinct = {}, {}
    for field in DATASET_COLUMNS:
        values = raw.columns.get(field)
        if values is None:  # Description may be absent
            values = [""] * count
        if hasattr(values, "dtype"):
            codes[field], uniques = pd.factorize(values)
        else:
            # Plain Python values (CSV, xlsx): dicts do this faster than pandas' object
            # hashing, in C all the way, and keep None as a value of its own.
            uniques = list(dict.fromkeys(values))
            index = {value: n for n, value in enumerate(uniques)}
            codes[field] = np.fromiter(map(index.__getitem__, values), dtype=np.int64,
                                       count=len(values))
        # The last slot answers for missing values (factorize's -1).
        distinct[field] = list(uniques) + [None]
    out = {f: np.empty(len(distinct[f]), dtype=object) for f in DATASET_COLUMNS}
    bad = {f: np.zeros(len(distinct[f]), dtype=bool) for f in DATASET_COLUMNS}
    prepare = {f: cell_reader(f, raw) for f in DATASET_COLUMNS}

    def value_of(field, n):
        value = distinct[field][n]
        return prepare[field](value) if prepare[field] is not None else value

    for n in range(max(len(v) for v in distinct.values())):
        fields = [f for f in DATASET_COLUMNS if n < len(distinct[f])]
        try:
            line = records.from_fields({**_PROBE, **{f: value_of(f, n) for f in fields}})
        except RecordError:
            for field in fields:
                try:
                    line = records.from_fields({**_PROBE, field: value_of(field, n)})
                    out[field][n] = getattr(line, records.ATTRIBUTE[field])
                except RecordError:
                    bad[field][n] = True
            continue
        for field in fields:
            out[field][n] = getattr(line, records.ATTRIBUTE[field])
    rows_bad = np.zeros(count, dtype=bool)
    for field in DATASET_COLUMNS:
        rows_bad |= bad[field][codes[field]]
    return codes, out, rows_bad


def normalise_columns(raw: Raw, count: int) -> tuple[dict, np.ndarray]:
    """{field: normalised value of each row (object array)}, and which rows are unreadable."""
    codes, out, rows_bad = _factorised(raw, count)
    return {f: out[f][codes[f]] for f in DATASET_COLUMNS}, rows_bad


def load(path: Path, thorough: bool = True) -> Table:
    """Every row of the file, normalised exactly as `records.from_fields` would."""
    with gc_paused():
        return _load(Path(path), thorough)


def _load(path: Path, thorough: bool) -> Table:
    import numpy as np
    import pandas as pd

    raw = read_raw(path, thorough)
    count = len(raw.line_nos)
    codes, out, bad = _factorised(raw, count)
    problems = [(n, str(error)) for n, error in raw.problems]
    for pos in np.flatnonzero(bad):
        problems.append((raw.line_nos[pos], _reason(raw, int(pos))))
    problems.sort()
    good = ~bad
    canonical_codes, uniques = {}, {}
    for field in DATASET_COLUMNS:
        # Different raw spellings can normalise alike ("17850" and 17850.0): count them once.
        canonical, distinct = pd.factorize(out[field], use_na_sentinel=True)
        row_codes = codes[field][good]
        canonical_codes[field] = np.asarray(canonical, dtype=np.int64)[row_codes]
        uniques[field] = np.asarray(distinct, dtype=object)
    line_nos = np.asarray(raw.line_nos, dtype=np.int64)[good]
    return Table(raw.form, line_nos, canonical_codes, uniques, problems, raw.rows)


def _reason(raw: Raw, pos: int) -> str:
    """from_fields' own message for the whole row: the first bad field, in its order."""
    fields: dict = {LINE_NO: raw.line_nos[pos]}
    date_error = None
    for field in DATASET_COLUMNS:
        values = raw.columns.get(field)
        value = "" if values is None else values[pos]
        prepare = cell_reader(field, raw)
        try:
            fields[field] = prepare(value) if prepare is not None else value
        except RecordError as error:  # only the date has a step of its own that can fail
            date_error = error
            break
    if date_error is not None:
        # The fields from_fields reads before the date may still fail first.
        fields.update({k: v for k, v in _PROBE.items() if k not in fields or k == INVOICE_DATE})
    try:
        records.from_fields(fields)
    except RecordError as error:
        return str(error)
    return str(date_error) if date_error else "unreadable"
