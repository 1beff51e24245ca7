"""The real UCI file (shared/data/online_retail.parquet) in the forms users bring it in.

Every file here is written by the test from the parquet into tmp_path and deleted with it;
none of the real rows go into the project.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers.datasets import REAL_DATASET
from orderhist.dataset import info, iter_lines
from orderhist.records import RecordError

REAL = REAL_DATASET

# ../shared/reference/online-retail-dataset.md, section 1.
FIGURES = {
    "rows": 541_909, "invoices": 25_900, "customers": 4_372, "guest_rows": 135_080,
    "cancelled_invoices": 3_836, "cancelled_rows": 9_288, "duplicates": 5_268,
    "negative_quantities": 10_624, "zero_prices": 2_515, "negative_prices": 2,
    "countries": 38, "stock_codes": 4_070, "unreadable_rows": 0,
}


def check_figures(got: dict) -> None:
    assert {k: got[k] for k in FIGURES} == FIGURES
    assert got["first_date"].startswith("2010-12-01T08:26")
    assert got["last_date"].startswith("2011-12-09T12:50")


@pytest.fixture(scope="module")
def real_frame():
    if not REAL.exists():
        pytest.skip(f"the real UCI dataset is not at {REAL}")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    return pd.read_parquet(REAL)


def kaggle_date(moment) -> str:
    return f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"


def uci_date(moment) -> str:
    return f"{moment.day:02d}/{moment.month:02d}/{moment.year} {moment:%H:%M}"


def write_csv(frame, path: Path, date_form, encoding: str, newline: str, quote_all=False):
    """The file as the UCI xlsx's CSV exports have it: missing descriptions empty (the
    parquet says "Unknown"), whole-number customer ids, prices as typed."""
    dates = {m: date_form(m) for m in frame["InvoiceDate"].unique()}
    columns = [
        frame["InvoiceNo"].tolist(), frame["StockCode"].tolist(),
        ["" if d == "Unknown" else d for d in frame["Description"].tolist()],
        frame["Quantity"].tolist(), [dates[m] for m in frame["InvoiceDate"]],
        [repr(p) for p in frame["UnitPrice"].tolist()],
        ["" if c != c else int(c) for c in frame["CustomerID"].tolist()],
        frame["Country"].tolist(),
    ]
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline,
                            quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(frame.columns)
        writer.writerows(zip(*columns))


def test_info_on_the_real_parquet(real_frame):
    got = info(REAL)
    check_figures(got)
    assert got["bad_debt_invoices"] == ["A563185", "A563186", "A563187"]
    assert got["largest_invoice"] == {"invoice": "573585", "lines": 1114}
    assert got["invoices_with_two_dates"] == 43
    assert got["descriptions"]["pound_sign"] == 32


def test_info_on_a_kaggle_latin1_csv(real_frame, tmp_path):
    path = tmp_path / "data.csv"
    write_csv(real_frame, path, kaggle_date, "latin-1", "\r\n")
    assert b"\xa3" in path.read_bytes()  # "£" as Latin-1's single byte
    got = info(path)
    check_figures(got)
    assert got["form"]["encoding"] in ("cp1252", "latin-1")
    assert got["form"]["dates"] == "month/day"
    assert got["descriptions"]["missing"] == 1_454
    assert got["descriptions"]["pound_sign"] == 32
    # The line the seed's reader broke on (file line 38,250, after the header) reads like any
    # other.
    line_no, line = next(iter_lines(path, 38_248))
    assert line_no == 38_249 and "£" in line.description


def test_first_rows_in_day_first_form_with_a_cut_off_line(real_frame, tmp_path):
    """Like the copy that stops at row 39,529 plus a cut-off line: Latin-1, LF, dd/mm."""
    path = tmp_path / "Online Retail.csv"
    write_csv(real_frame.head(39_529), path, uci_date, "latin-1", "\n")
    with open(path, "ab") as handle:
        handle.write(b"539650,84347,R")
    got = info(path)
    assert got["form"]["dates"] == "day/month"
    assert got["rows"] == 39_530 and got["unreadable_rows"] == 1
    assert got["problems"][0]["line"] == 39_530
    assert "ends inside this row" in got["problems"][0]["reason"]
    assert got["guest_rows"] == 13_766
    assert got["first_date"] == "2010-12-01T08:26:00"
    assert got["last_date"] == "2010-12-20T16:11:00"
    last = list(iter_lines(path, 39_528))
    assert [n for n, _ in last] == [39_529, 39_530] and isinstance(last[1][1], RecordError)


def test_non_uk_customers_every_field_quoted_utf8(real_frame, tmp_path):
    """Like the filtered copy: every non-UK row with a customer, quoted, UTF-8, CRLF."""
    subset = real_frame[(real_frame["Country"] != "United Kingdom")
                        & real_frame["CustomerID"].notna()]
    path = tmp_path / "online_retail.csv"
    write_csv(subset, path, kaggle_date, "utf-8", "\r\n", quote_all=True)
    got = info(path)
    assert got["rows"] == 44_951 == len(subset)
    assert got["guest_rows"] == 0 and got["unreadable_rows"] == 0
    assert got["customers"] == subset["CustomerID"].nunique()
    assert got["countries"] == subset["Country"].nunique() == 36  # Hong Kong has only guests


def test_xlsx_written_from_the_parquet_matches_the_parquet(real_frame, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    # A slice that holds the first "£" row: openpyxl takes minutes to write all 541,909 rows
    # (test_dataset_xlsx writes the whole file as Excel does, faster).
    part = real_frame.iloc[37_000:43_000]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Online Retail")
    sheet.append(list(part.columns))
    for inv, code, desc, qty, when, price, customer, country in part.itertuples(index=False):
        # As in the UCI workbook: numeric invoices and codes are numbers, dates are dates.
        sheet.append([int(inv) if inv.isdigit() else inv, int(code) if code.isdigit() else code,
                      desc, qty, when.to_pydatetime(), price,
                      None if customer != customer else customer, country])
    xlsx = tmp_path / "Online Retail.xlsx"
    book.save(xlsx)
    parquet = tmp_path / "part.parquet"
    part.reset_index(drop=True).to_parquet(parquet)
    from_xlsx, from_parquet = info(xlsx), info(parquet)
    for report in (from_xlsx, from_parquet):
        report.pop("source")
        report.pop("form")
    assert from_xlsx == from_parquet
    assert from_xlsx["rows"] == 6_000 and from_xlsx["descriptions"]["pound_sign"] >= 1
