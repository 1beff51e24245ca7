"""Parquet: the dataset's columns whole, each text column readable value by value."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .sniff import DatasetError, canonical_columns


def read_parquet_columns(path: Path) -> dict[str, Sequence]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise DatasetError(f"reading parquet needs pyarrow: pip install pyarrow ({error})") \
            from None
    except Exception as error:
        raise DatasetError(f"{path} is not a readable parquet file: {error}") from None
    if not len(frame.columns):
        raise DatasetError(f"{path} has no columns; expected the UCI Online Retail columns")
    # Kept as Series: bulk readers factorise them, the streaming one lists them.
    by_position = {n: _readable_text(frame[c]) for n, c in enumerate(frame.columns)}
    return canonical_columns(frame.columns, by_position, path)


def _readable_text(column):
    """The column; or, if it is text holding bytes that are not UTF-8 (which would fail when
    a chunk of rows is converted, ending the whole run; pyarrow's check of the real file takes
    ~10 ms), its values decoded one by one, so a bad value is only its row's problem. Bytes
    that encode a lone surrogate (as Java or surrogatepass write one) come back as it, any
    other bad byte as U+DC80+byte (PEP 383): the generator writes them escaped, and the Lambda
    refuses the row, naming the character."""
    import pandas as pd
    import pyarrow as pa

    if getattr(column.dtype, "storage", None) != "pyarrow":
        return column
    chunks = column.array.__arrow_array__()
    try:
        chunks.validate(full=True)
        return column
    except pa.ArrowInvalid:
        pass
    wide = pa.types.is_large_string(chunks.type)
    raw = chunks.cast(pa.large_binary() if wide else pa.binary()).to_pylist()
    # object, not str: pandas' own text type cannot hold a lone surrogate either.
    return pd.Series([None if v is None else _decode_leniently(v) for v in raw], dtype=object,
                     index=column.index, name=column.name)


def _decode_leniently(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return value.decode("utf-8", "surrogateescape")
