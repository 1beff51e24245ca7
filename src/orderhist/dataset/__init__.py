"""Datasets: the real UCI Online Retail file in any common form, and a synthetic one.

`iter_lines` streams a CSV with the standard library only (the log generator calls it on
every run and must start fast); parquet, xlsx, `load`, `info` and `synth` bring in pandas or
openpyxl when used.
"""
from .convert import convert
from .info import info
from .loaders import iter_lines, open_lines
from .sniff import DatasetError
from .synth import BUNDLED_ROWS, BUNDLED_SEED, REAL_ROWS, synth, synth_rows, write_synthetic
from .table import Table, load

__all__ = [
    "BUNDLED_ROWS", "BUNDLED_SEED", "REAL_ROWS", "DatasetError", "Table", "convert", "info",
    "iter_lines",
    "load", "open_lines", "synth", "synth_rows", "write_synthetic",
]
