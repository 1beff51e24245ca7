"""Dataset loaders on small files the tests write, one form at a time."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from orderhist.dataset import DatasetError, info, iter_lines, load
from orderhist.errors import UsageProblem
from orderhist.records import OrderLine, RecordError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8",
          newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def lines(path: Path, start: int = 0) -> list:
    return list(iter_lines(path, start))


def records_of(path: Path) -> list[OrderLine]:
    out = []
    for n, line in iter_lines(path):
        assert not isinstance(line, RecordError), (n, line)
        out.append(line)
    return out


def test_kaggle_form_month_first_dates_and_latin1_pound(tmp_path):
    path = write(tmp_path, f"""{HEADER}
536365,85123A,TEA LIGHT HOLDER ,6,12/1/2010 8:26,2.55,17850,United Kingdom
536366,22633,"TIN, RED",6,12/13/2010 8:28,1.85,17850.0,United Kingdom
539492,gift_0001_20,Gift card worth £20.00,1,12/20/2010 10:14,16.67,,United Kingdom
""", encoding="latin-1")
    first, second, third = records_of(path)
    assert first.invoice_date == "2010-12-01T08:26:00"
    assert first.description == "TEA LIGHT HOLDER "
    assert second.invoice_date == "2010-12-13T08:28:00"
    assert second.customer_id == "17850" and second.description == "TIN, RED"
    assert third.description == "Gift card worth £20.00" and third.customer_id is None
    assert [r.line_no for r in (first, second, third)] == [1, 2, 3]
    assert info(path)["form"]["encoding"] in ("cp1252", "latin-1")


def test_cp1252_bytes_are_read_as_cp1252(tmp_path):
    path = write(tmp_path, f"""{HEADER}
536365,22633,\u201cHAPPY\u201d MUG \u20ac,6,12/1/2010 8:26,2.55,17850,France
""", encoding="cp1252")
    (line,) = records_of(path)
    assert line.description == "\u201cHAPPY\u201d MUG \u20ac"


def test_utf8_with_bom_and_crlf(tmp_path):
    path = write(tmp_path, "\ufeff" + f"""{HEADER}
536365,22633,MUG £,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,22634,CUP,1,12/1/2010 8:26,0.85,17850,United Kingdom
""", newline="\r\n")
    a, b = records_of(path)
    assert a.description == "MUG £" and a.country == "United Kingdom"
    assert b.country == "United Kingdom" and b.line_no == 2


def test_day_first_decided_by_evidence_late_in_the_file(tmp_path):
    # The first twelve days read either way; the 13th settles it.
    rows = [f"5363{n:02d},22633,MUG,1,{n:02d}/12/2010 08:26,1,17850,United Kingdom"
            for n in range(1, 13)]
    rows.append("536399,22633,MUG,1,13/12/2010 09:00,1,17850,United Kingdom")
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    got = records_of(path)
    assert got[0].invoice_date == "2010-12-01T08:26:00"
    assert got[11].invoice_date == "2010-12-12T08:26:00"
    assert got[12].invoice_date == "2010-12-13T09:00:00"


def test_ambiguous_dates_follow_the_files_time_order(tmp_path):
    # No day above 12 anywhere: read as day-first these run forward, month-first they jump.
    rows = [f"53636{n},22633,MUG,1,0{n}/12/2010 08:26,1,17850,United Kingdom"
            for n in range(1, 6)]
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    assert [r.invoice_date[:10] for r in records_of(path)] == [
        f"2010-12-0{n}" for n in range(1, 6)]


def test_mixed_date_orders_are_refused(tmp_path):
    path = write(tmp_path, f"""{HEADER}
536365,22633,MUG,1,13/12/2010 08:26,1,17850,United Kingdom
536366,22633,MUG,1,12/13/2010 08:26,1,17850,United Kingdom
""")
    with pytest.raises(DatasetError, match="mixes day-first"):
        info(path)


@pytest.mark.parametrize("stamp, expected", [
    ("2010-12-01 08:26:00", "2010-12-01T08:26:00"),
    ("2010-12-01 08:26", "2010-12-01T08:26:00"),
    ("2010-12-01T08:26", "2010-12-01T08:26:00"),
    ("12/1/10 8:26", "2010-12-01T08:26:00"),
    ("01-12-2010 08:26", "2010-12-01T08:26:00"),
])
def test_date_forms(tmp_path, stamp, expected):
    extra = "536366,1,X,1,13-12-2010 08:26,1,,EIRE\n" if stamp.startswith("01-") else ""
    path = write(tmp_path, f"{HEADER}\n536365,22633,MUG,1,{stamp},1,17850,United Kingdom\n"
                 + extra)
    assert records_of(path)[0].invoice_date == expected


def test_pandas_export_with_index_column_and_float_ids(tmp_path):
    path = write(tmp_path, f""",{HEADER}
0,536365,85123A,TEA LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
1,536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,,United Kingdom
""")
    a, b = records_of(path)
    assert a.customer_id == "17850" and a.stock_code == "85123A"
    assert b.customer_id is None and b.unit_price == Decimal("3.39")


def test_online_retail_ii_headers_and_every_field_quoted(tmp_path):
    path = write(tmp_path, '''"Invoice","StockCode","Description","Quantity","InvoiceDate","Price","Customer ID","Country"
"489434","85048","15CM CHRISTMAS GLASS BALL 20 LIGHTS","12","12/1/2009 7:45","6.95","13085","United Kingdom"
"C489449","22087","PAPER BUNTING ""WHITE"" LACE","-12","12/1/2009 10:33","2.95","16321","Australia"
''', newline="\r\n")
    a, b = records_of(path)
    assert a.invoice_no == "489434" and a.unit_price == Decimal("6.95")
    assert b.cancelled and b.quantity == -12 and b.description == 'PAPER BUNTING "WHITE" LACE'
    assert b.country == "Australia"


def test_semicolon_delimited(tmp_path):
    path = write(tmp_path, HEADER.replace(",", ";") +
                 "\n536365;22633;MUG, BLUE;6;12/1/2010 8:26;2.55;17850;France\n")
    assert records_of(path)[0].description == "MUG, BLUE"


def test_cut_off_last_line_is_reported_with_row_and_reason(tmp_path):
    path = write(tmp_path, f"""{HEADER}
539650,22594,CHRISTMAS TREE,5,20/12/2010 16:11,0.85,,United Kingdom
539650,84347,R""")
    got = lines(path)
    assert isinstance(got[0][1], OrderLine)
    assert got[1][0] == 2 and isinstance(got[1][1], RecordError)
    assert "ends inside this row" in str(got[1][1])
    report = info(path)
    assert report["rows"] == 2 and report["unreadable_rows"] == 1
    assert report["problems"][0]["line"] == 2
    assert "ends inside this row" in report["problems"][0]["reason"]


def test_bad_rows_are_reported_in_place_never_dropped(tmp_path):
    path = write(tmp_path, f"""{HEADER}
536365,22633,MUG,6,12/1/2010 8:26,2.55,17850,United Kingdom
536366,22633,MUG,six,12/1/2010 8:26,2.55,17850,United Kingdom
536367,22633,MUG
536368,22633,MUG,1,12/1/2010 8:26,2.55,17850,United Kingdom,extra
536369,22633,MUG,1,12/45/2010 8:26,2.55,17850,United Kingdom
536370,22633,MUG,1,12/1/2010 8:26,abc,17850,United Kingdom

536371,22633,MUG,1,12/1/2010 8:26,1,17850,United Kingdom,
""")
    got = lines(path)
    assert [n for n, _ in got] == list(range(1, 8))
    kinds = [type(line).__name__ for _, line in got]
    assert kinds == ["OrderLine", "RecordError", "RecordError", "RecordError", "RecordError",
                     "RecordError", "OrderLine"]
    reasons = [str(line) for _, line in got]
    assert "Quantity 'six'" in reasons[1]
    assert "row is short" in reasons[2]
    assert "9 fields" in reasons[3]
    assert "12/45/2010" in reasons[4]
    assert "UnitPrice 'abc'" in reasons[5]
    assert got[6][1].line_no == 7
    # The bulk loader agrees row for row, reason for reason.
    table = load(path)
    assert table.rows == 7
    assert [(n, r) for n, r in table.problems] == [(n, str(e)) for n, e in got[1:6]]
    assert list(table.frame["LineNo"]) == [1, 7]


def test_start_skips_rows_and_keeps_numbering(tmp_path):
    rows = [f"5363{n:02d},22633,\"MUG\nTWO LINES\",1,12/1/2010 8:{n:02d},1,17850,EIRE"
            for n in range(20)]
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    everything = lines(path)
    assert len(everything) == 20
    for start in (0, 1, 7, 19, 20, 25):
        got = lines(path, start)
        assert [n for n, _ in got] == [n for n, _ in everything[start:]]
        assert got == everything[start:]
    # With a blank line the careful path counts the same way.
    blank = write(tmp_path, HEADER + "\n" + "\n".join(rows[:5]) + "\n\n" + "\n".join(rows[5:])
                  + "\n", name="blank.csv")
    assert lines(blank, 7) == everything[7:]


def test_streaming_and_bulk_agree_on_every_record(tmp_path):
    from orderhist.dataset import write_synthetic

    path = tmp_path / "s.csv"
    write_synthetic(path, 3000, 7)
    streamed = [line for _, line in iter_lines(path)]
    table = load(path)
    assert len(streamed) == len(table.frame) == 3000
    import pandas as pd

    for line, row in zip(streamed, table.frame.itertuples(index=False)):
        row = tuple(None if v is None or (not isinstance(v, str) and pd.isna(v)) else v
                    for v in row)
        assert (line.line_no, line.invoice_no, line.stock_code, line.description, line.quantity,
                line.invoice_date, line.unit_price, line.customer_id, line.country) == row


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"a,b,c\n1,2,3\n", "no InvoiceNo"),
    (b"InvoiceNo,StockCode,Description,Quantity,UnitPrice,CustomerID,Country\n", "InvoiceDate"),
    (b"\n\n", "no header"),
    (b"\x1f\x8b\x08\x00", "compressed"),
])
def test_whole_file_problems_are_one_clear_usage_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageProblem, match=message) as caught:
        iter_lines(path)  # raised at the call, before any line is asked for
    assert "\n" not in str(caught.value)
    with pytest.raises(DatasetError):
        info(path)


def test_directory_is_a_usage_error(tmp_path):
    with pytest.raises(DatasetError, match="directory"):
        iter_lines(tmp_path)


def test_header_only_file_has_no_lines_and_info_says_so(tmp_path):
    path = write(tmp_path, HEADER + "\n")
    assert lines(path) == []
    with pytest.raises(DatasetError, match="no rows"):
        info(path)


def _frame_rows():
    import pandas as pd

    return pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "C536379"],
        "StockCode": ["85123A", "71053", "D"],
        "Description": ["TEA LIGHT HOLDER ", None, "Discount"],
        "Quantity": [6, 6, -1],
        "InvoiceDate": pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:26",
                                       "2010-12-01 09:41"]),
        "UnitPrice": [2.55, 3.39, 27.5],
        "CustomerID": [17850.0, float("nan"), 14527.0],
        "Country": ["United Kingdom", "United Kingdom", "United Kingdom"],
    })


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.bin"  # the name says nothing; the bytes do
    _frame_rows().to_parquet(path)
    a, b, c = records_of(path)
    assert a.invoice_date == "2010-12-01T08:26:00" and a.customer_id == "17850"
    assert a.unit_price == Decimal("2.55") and a.description == "TEA LIGHT HOLDER "
    assert b.customer_id is None and b.description == ""
    assert c.cancelled and c.quantity == -1 and c.line_no == 3
    assert lines(path, 2) == lines(path)[2:]
    assert info(path)["cancelled_rows"] == 1


def test_parquet_with_text_dates_in_day_first_form(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _frame_rows()
    frame["InvoiceDate"] = ["01/12/2010 08:26", "01/12/2010 08:26", "13/12/2010 09:41"]
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    assert [r.invoice_date for r in records_of(path)] == [
        "2010-12-01T08:26:00", "2010-12-01T08:26:00", "2010-12-13T09:41:00"]


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                  "UnitPrice", "CustomerID", "Country"])
    sheet.append([536365, "85123A", "TEA LIGHT HOLDER ", 6, datetime(2010, 12, 1, 8, 26), 2.55,
                  17850, "United Kingdom"])
    sheet.append([536365, 71053, None, 6, datetime(2010, 12, 1, 8, 26), 3.39, None,
                  "United Kingdom"])
    sheet.append(["C536379", "D", "Discount", -1, datetime(2010, 12, 1, 9, 41), 27.5, 14527,
                  "United Kingdom"])
    path = tmp_path / "Online Retail.xlsx"
    book.save(path)
    a, b, c = records_of(path)
    assert a.invoice_no == "536365" and a.invoice_date == "2010-12-01T08:26:00"
    assert a.customer_id == "17850" and a.unit_price == Decimal("2.55")
    assert b.stock_code == "71053" and b.customer_id is None and b.description == ""
    assert c.cancelled and c.line_no == 3
    report = info(path)
    assert report["rows"] == 3 and report["guest_rows"] == 1 and report["customers"] == 2
