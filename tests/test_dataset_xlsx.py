"""The xlsx reader: workbooks as Excel writes them (shared strings, date styles) and odd ones."""
from __future__ import annotations

import zipfile
from datetime import datetime

import pytest

from helpers.datasets import REAL_DATASET
from helpers.xlsx import HEADER, MAIN, excel_like, serial
from orderhist.dataset import DatasetError, info, iter_lines
from orderhist.dataset.xlsx import read_first_sheet

REAL = REAL_DATASET


def test_shared_strings_numbers_and_dates(tmp_path):
    path = tmp_path / "book.xlsx"
    excel_like(path, [
        HEADER,
        [536365, "85123A", "HOLDER & <LAMP> ", 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850,
         "United Kingdom"],
        ["C536379", "D", None, -1, datetime(2011, 12, 9, 12, 50), 27.5, None, "EIRE"],
    ])
    (_, a), (_, b) = list(iter_lines(path))
    assert (a.invoice_no, a.description, a.invoice_date, a.customer_id) == (
        "536365", "HOLDER & <LAMP> ", "2010-12-01T08:26:00", "17850")
    assert b.cancelled and b.description == "" and b.customer_id is None
    assert b.invoice_date == "2011-12-09T12:50:00"


def test_1904_dates_custom_date_format_and_odd_cells(tmp_path):
    base = datetime(1904, 1, 1)
    sheet = (
        f'<?xml version="1.0"?><x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
        '<x:row r="1">' + "".join(
            f'<x:c r="{chr(65 + n)}1" t="inlineStr"><x:is><x:t>{h}</x:t></x:is></x:c>'
            for n, h in enumerate(HEADER)) + "</x:row>"
        '<x:row r="3" spans="1:8"><x:c r="A3" t="str"><x:f>A1</x:f><x:v>536365</x:v></x:c>'
        '<x:c r="B3" t="inlineStr"><x:is><x:r><x:t>851</x:t></x:r><x:r><x:t>23A</x:t></x:r>'
        '</x:is></x:c><x:c r="C3" t="inlineStr"><x:is><x:t xml:space="preserve"> TWO '
        'PARTS </x:t></x:is></x:c><x:c r="D3"><x:v>6</x:v></x:c>'
        f'<x:c r="E3" s="1"><x:v>{serial(datetime(2010, 12, 1, 8, 26), base)}</x:v></x:c>'
        '<x:c r="F3"><x:v>2.55</x:v></x:c><x:c r="G3"><x:v>17850</x:v></x:c>'
        '<x:c r="H3" t="inlineStr"><x:is><x:t>France</x:t></x:is></x:c></x:row>'
        "</x:sheetData></x:worksheet>")
    path = tmp_path / "odd.xlsx"
    excel_like(path, [], sheet_xml=sheet, date1904=True, prefix="x",
               date_format='dd/mm/yyyy\\ hh:mm;@')
    (n, line), = list(iter_lines(path))
    assert n == 1  # the empty row 2 is no row
    assert (line.invoice_no, line.stock_code, line.description) == ("536365", "85123A",
                                                                    " TWO PARTS ")
    assert line.invoice_date == "2010-12-01T08:26:00" and line.country == "France"


def test_unprefixed_row_with_unusual_attributes_takes_the_careful_path(tmp_path):
    sheet = (
        f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData><row r="1">' + "".join(
            f'<c r="{chr(65 + n)}1" t="inlineStr"><is><t>{h}</t></is></c>'
            for n, h in enumerate(HEADER)) + '</row><row r="2">'
        '<c r="A2" t="inlineStr" cm="1"><is><t>536365</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>22633</t></is></c>'
        '<c r="C2" t="inlineStr"><is><r><rPr><b/></rPr><t>BOLD</t></r><r><t> MUG</t></r>'
        '</is></c><c r="D2" t="n"><v>-3</v></c><c r="E2" t="d"><v>2010-12-01T08:26:00</v></c>'
        '<c r="F2"><v>1E-3</v></c><c r="H2" t="inlineStr"><is><t>Spain</t></is></c>'
        "</row></sheetData></worksheet>")
    path = tmp_path / "careful.xlsx"
    excel_like(path, [], sheet_xml=sheet)
    _, rows = read_first_sheet(path)
    assert rows[1] == ["536365", "22633", "BOLD MUG", -3, datetime(2010, 12, 1, 8, 26), 0.001,
                       None, "Spain"]


def test_convert_keeps_every_row_in_place(tmp_path):
    from orderhist.dataset import convert

    path = tmp_path / "book.xlsx"
    excel_like(path, [
        HEADER,
        [536365, "85123A", 'HOLDER, "BIG" £ ', 6, datetime(2010, 12, 1, 8, 26), 2.55, 17850,
         "United Kingdom"],
        [536366, "22633", "MUG", "six", datetime(2010, 12, 1, 8, 28), 1.85, 17850, "France"],
        ["C536379", "D", None, -1, datetime(2011, 12, 9, 12, 50), 27.5, None, "EIRE"],
    ])
    out = tmp_path / "cache.csv"
    assert convert(path, out) == {"rows": 3, "unreadable_rows": 1}
    before, after = list(iter_lines(path)), list(iter_lines(out))
    assert [n for n, _ in after] == [1, 2, 3]
    assert after[0] == before[0] and after[2] == before[2]
    assert str(after[1][1]) == str(before[1][1]) == "Quantity 'six' is not an integer"


def test_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("hello.txt", "hi")
    with pytest.raises(DatasetError, match="not an xlsx workbook"):
        iter_lines(path)


def excel_sheet_from_frame(pd, frame) -> tuple[str, list[str]]:
    """The sheet XML and shared strings for a whole frame, built column-wise (vectorised):
    digits-only codes as numbers, text as shared strings, dates as styled day numbers."""
    rows = pd.Series(range(2, len(frame) + 2)).astype(str)
    strings: list[str] = []
    xml = ""
    for n, column in enumerate(frame.columns):
        ref = f'<c r="{chr(65 + n)}' + rows
        values = frame[column].reset_index(drop=True)
        if column == "InvoiceDate":
            days = (values - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
            cells = ref + '" s="1"><v>' + days.astype(str) + "</v></c>"
        elif values.dtype.kind in "if":
            if column == "CustomerID":
                values = values.astype("Int64")
            text = values.astype(str)
            cells = (ref + '"><v>' + text + "</v></c>").where(values.notna(), "")
        else:
            codes, uniques = pd.factorize(values)
            shared = pd.Series(codes + len(strings)).astype(str)
            strings.extend(uniques)
            number = values.str.isdigit().fillna(False)
            cells = (ref + '" t="s"><v>' + shared + "</v></c>").where(codes >= 0, "")
            cells = cells.where(~number, ref + '"><v>' + values + "</v></c>")
        xml = cells if isinstance(xml, str) else xml + cells
    header = "".join(f'<c r="{chr(65 + n)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                     for n, h in enumerate(frame.columns))
    body = "".join(("<row r=\"" + rows + "\">" + xml + "</row>").tolist())
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
            f'<row r="1">{header}</row>{body}</sheetData></worksheet>'), strings


def test_full_real_file_as_an_excel_workbook(tmp_path):
    """The issue's figures from an xlsx the test writes from the real parquet."""
    if not REAL.exists():
        pytest.skip(f"the real UCI dataset is not at {REAL}")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    sheet, strings = excel_sheet_from_frame(pd, pd.read_parquet(REAL))
    path = tmp_path / "Online Retail.xlsx"
    excel_like(path, [], sheet_xml=sheet, shared=strings)
    del sheet, strings
    got = info(path)
    assert {k: got[k] for k in ("rows", "invoices", "customers", "guest_rows",
                                "cancelled_invoices", "cancelled_rows", "duplicates",
                                "unreadable_rows")} == {
        "rows": 541_909, "invoices": 25_900, "customers": 4_372, "guest_rows": 135_080,
        "cancelled_invoices": 3_836, "cancelled_rows": 9_288, "duplicates": 5_268,
        "unreadable_rows": 0}
    assert got["first_date"].startswith("2010-12-01T08:26")
    assert got["last_date"].startswith("2011-12-09T12:50")
