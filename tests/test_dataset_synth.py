"""The synthetic dataset: deterministic, shaped like the real file, and the bundled copy."""
from __future__ import annotations

from pathlib import Path

import pytest

from orderhist.dataset import (
    BUNDLED_ROWS,
    BUNDLED_SEED,
    REAL_ROWS,
    info,
    iter_lines,
    synth,
    write_synthetic,
)
from orderhist.records import OrderLine

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "OnlineRetail.csv"


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_synthetic(a, 5000, 3)
    write_synthetic(b, 5000, 3)
    write_synthetic(c, 5000, 4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert sum(1 for _ in iter_lines(a)) == 5000


def test_bundled_file_is_the_generators_output(tmp_path):
    fresh = tmp_path / "fresh.csv"
    write_synthetic(fresh, BUNDLED_ROWS, BUNDLED_SEED)
    assert BUNDLED.read_bytes() == fresh.read_bytes(), (
        "data/OnlineRetail.csv is stale: regenerate it with "
        f"write_synthetic(Path('data/OnlineRetail.csv'), {BUNDLED_ROWS}, {BUNDLED_SEED})")
    assert 2_000_000 < BUNDLED.stat().st_size < 4_500_000


def test_bundled_file_opens_with_customer_17850():
    first = []
    for _, line in iter_lines(BUNDLED):
        if line.customer_id != "17850":
            break
        first.append(line)
    assert len(first) >= 50
    assert len({line.invoice_no for line in first}) >= 3
    assert {line.country for line in first} == {"United Kingdom"}
    assert first[0].invoice_date == "2010-12-01T08:26:00"
    assert "£" in BUNDLED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bundled_info() -> dict:
    return info(BUNDLED)


def test_bundled_file_reads_cleanly(bundled_info):
    assert bundled_info["rows"] == BUNDLED_ROWS
    assert bundled_info["unreadable_rows"] == 0
    assert bundled_info["first_date"].startswith("2010-12-01T08:26")
    assert bundled_info["last_date"].startswith("2011-12-09T12:50")


CLASSES = {
    "repeat customers": lambda i: i["repeat_customers"] >= 0.5 * i["customers"],
    "an invoice of 1000+ lines": lambda i: i["largest_invoice"]["lines"] >= 1000,
    "guest lines": lambda i: 0.2 < i["guest_rows"] / i["rows"] < 0.3,
    "cancellations": lambda i: i["cancelled_invoices"] > 0 and
    0.01 < i["cancelled_rows"] / i["rows"] < 0.025,
    "other negative quantities": lambda i: i["negative_quantities"] > i["cancelled_rows"],
    "zero prices": lambda i: i["zero_prices"] > 0,
    "the three bad-debt lines": lambda i: len(i["bad_debt_invoices"]) == 3
    and i["negative_prices"] == 2,
    "exact duplicates": lambda i: i["duplicates"] > 0,
    "special stock codes": lambda i: set(i["special_stock_codes"]) >= {
        "POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B",
        "gift_0001_*", "DCGS*"},
    "lowercase stock codes": lambda i: i["lowercase_stock_codes"] > 0,
    "commas": lambda i: i["descriptions"]["comma"] > 0,
    "double quotes": lambda i: i["descriptions"]["double_quote"] > 0,
    "apostrophes": lambda i: i["descriptions"]["apostrophe"] > 0,
    "leading spaces": lambda i: i["descriptions"]["leading_space"] > 0,
    "trailing spaces": lambda i: 0.15 < i["descriptions"]["trailing_space"] / i["rows"] < 0.3,
    "pound signs": lambda i: i["descriptions"]["pound_sign"] >= 3,
    "missing descriptions": lambda i: i["descriptions"]["missing"] > 0,
    "38 countries, UK about 91%": lambda i: i["countries"] == 38
    and 0.86 < i["top_countries"]["United Kingdom"] / i["rows"] < 0.95,
    "an invoice with two timestamps": lambda i: i["invoices_with_two_dates"] >= 1,
}


@pytest.mark.parametrize("name", list(CLASSES))
def test_bundled_file_holds_every_class(bundled_info, name):
    assert CLASSES[name](bundled_info), (name, bundled_info)


def test_proportions_follow_the_real_file(tmp_path):
    # A bit over a third of full size keeps the suite quick; the rates are per row, so the
    # real figures scale (bench/bench_dataset.py makes the full-size one).
    rows = 200_000
    path = tmp_path / "big.csv"
    write_synthetic(path, rows, 1)
    got = info(path)
    scale = rows / REAL_ROWS

    def near(value, real, tolerance):
        return abs(value - real * scale) <= tolerance * real * scale

    assert got["rows"] == rows and got["unreadable_rows"] == 0
    assert near(got["customers"], 4372, 0.03)
    assert near(got["invoices"], 25900, 0.12)  # mean invoice size about 21 lines
    assert near(got["guest_rows"], 135080, 0.03)
    assert near(got["cancelled_rows"], 9288, 0.03)
    assert near(got["cancelled_invoices"], 3836, 0.25)
    assert near(got["negative_quantities"], 10624, 0.05)
    assert near(got["zero_prices"], 2515, 0.12)
    assert near(got["duplicates"], 5268, 0.25)
    assert near(got["lowercase_stock_codes"], 1977, 0.15)
    assert near(got["descriptions"]["trailing_space"], 112626, 0.20)
    assert near(got["descriptions"]["missing"], 1454, 0.25)
    assert near(got["special_stock_codes"]["POST"], 1256, 0.2)
    assert got["special_stock_codes"]["B"] == 3 and got["negative_prices"] == 2
    assert abs(got["top_countries"]["United Kingdom"] / rows - 0.914) < 0.02
    assert near(got["invoices_with_two_dates"], 43, 0.1)
    assert got["largest_invoice"]["lines"] >= 1000
    assert got["first_date"].startswith("2010-12-01T08:26")
    assert got["last_date"].startswith("2011-12-09T12:50")


def test_heavy_tail_of_customers():
    frame = synth(60_000, 5)
    rows = frame.dropna(subset=["CustomerID"]).groupby("CustomerID").size()
    invoices = frame.dropna(subset=["CustomerID"]).groupby("CustomerID")["InvoiceNo"].nunique()
    assert rows.max() > 15 * rows.median()      # a few customers with very many lines
    assert invoices.median() <= 5                # most with a handful of orders
    assert (invoices >= 2).mean() > 0.5          # and most of them come back


def test_synth_frame_is_typed_like_the_real_parquet():
    frame = synth(2000, 9)
    assert list(frame.columns) == ["InvoiceNo", "StockCode", "Description", "Quantity",
                                   "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    assert str(frame["InvoiceDate"].dtype).startswith("datetime64")
    assert frame["CustomerID"].dtype == "float64" and frame["UnitPrice"].dtype == "float64"
    assert frame.iloc[0]["CustomerID"] == 17850.0


def test_tiny_files_still_read(tmp_path):
    for rows in (1, 10, 100):
        path = tmp_path / f"{rows}.csv"
        write_synthetic(path, rows, 0)
        got = [line for _, line in iter_lines(path)]
        assert len(got) == rows and all(isinstance(line, OrderLine) for line in got)
