"""Values with line breaks, NULs, separators and text that is not Unicode: the dataset readers
keep them row by row, and the whole local pipeline (generator, agent, stream, Lambda, table,
`orders`) gives every storable one back exactly and lists the rest as rejects with a reason."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from helpers.cli import orderhist
from orderhist import aws
from orderhist.dataset import iter_lines

CUSTOMER = "90001"
INVOICE = "600001"
HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country")

DESCRIPTIONS = [
    "RED\nHEART", "RED\r\nHEART", "RED\rHEART", "RED\u2028HEART", "RED\u2029HEART",
    "RED\x85HEART", "RED\x0bHEART", "RED\x0cHEART", "\x1c\x1d\x1e", "RED\tHEART",
    "RED\x00HEART", '"RED" ""HEART""', ",RED,,HEART,", "C:\\orders\\",
    "not a break: \\n, \\r, \\0, \\x0B, \\u2028", "ends with \\", "gift \U0001F381 \u2764\ufe0f",
    "\u05dc\u05d1 \u05d0\u05d3\u05d5\u05dd \u0642\u0644\u0628", "Cafe\u0301 n\u0303", "\n",
    "  padded  ", "\u00e9" * 150_000,
]


def rfc4180(rows) -> str:
    """CSV as RFC 4180 writes it, every field quoted, CRLF between records; by hand, so the
    file does not depend on the code under test."""
    return "".join(",".join('"' + str(v).replace('"', '""') + '"' for v in row) + "\r\n"
                   for row in rows)


def source_rows(descriptions) -> list[tuple]:
    return [(INVOICE, f"H{n}", text, n + 1, "2011-03-04T10:00:00", "1.25", CUSTOMER,
             "United Kingdom") for n, text in enumerate(descriptions)]


def parquet_with_raw_descriptions(path: Path, descriptions: list[bytes]) -> None:
    """A parquet file whose Description column holds these bytes as its strings, valid UTF-8
    or not (as a writer that does not check, such as a Java one, can leave them)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    offsets = [0]
    for value in descriptions:
        offsets.append(offsets[-1] + len(value))
    text = pa.Array.from_buffers(pa.string(), len(descriptions), [
        None, pa.array(offsets, type=pa.int32()).buffers()[1],
        pa.py_buffer(b"".join(descriptions))])
    count = len(descriptions)
    pq.write_table(pa.table({
        "InvoiceNo": ["600002"] * count, "StockCode": [f"P{n}" for n in range(count)],
        "Description": text, "Quantity": list(range(1, count + 1)),
        "InvoiceDate": ["2011-03-05T10:00:00"] * count, "UnitPrice": [2.5] * count,
        "CustomerID": [float(CUSTOMER)] * count, "Country": ["France"] * count}), path)


def test_csv_rows_keep_nul_and_line_breaks_and_a_bad_row_is_its_own_problem(tmp_path):
    source = tmp_path / "hostile.csv"
    rows = source_rows(DESCRIPTIONS)
    rows.insert(3, (INVOICE, "BAD", "x", "1\x00", "2011-03-04T10:00:00", "1.25", CUSTOMER, "UK"))
    source.write_text(rfc4180([HEADER, *rows]), encoding="utf-8", newline="")
    found = list(iter_lines(source))
    assert len(found) == len(DESCRIPTIONS) + 1
    bad = found.pop(3)
    assert bad[0] == 4 and "Quantity" in str(bad[1])
    assert [line.description for _, line in found] == DESCRIPTIONS


def test_parquet_text_that_is_not_utf8_is_kept_per_row(tmp_path):
    source = tmp_path / "raw.parquet"
    parquet_with_raw_descriptions(source, [b"fine\nline", b"lone \xed\xa0\x80 surrogate",
                                           b"stray \xff byte", "caf\u00e9".encode()])
    found = [line.description for _, line in iter_lines(source)]
    assert found == ["fine\nline", "lone \ud800 surrogate", "stray \udcff byte", "caf\u00e9"]


def put_raw(home: Path, data: bytes) -> None:
    """A record straight into the stack's stream, as an older generator's agent sent it."""
    status = json.loads(orderhist(home, "status", "--json").stdout)
    target = aws.Target(aws.LOCAL, status["region"], status["endpoint"])
    aws.client("kinesis", target).put_record(
        StreamName=status["stream"]["name"], Data=data, PartitionKey=CUSTOMER)


def test_xlsx_cells_keep_line_breaks_and_excels_escaped_characters(tmp_path):
    from helpers.xlsx import HEADER as XLSX_HEADER
    from helpers.xlsx import excel_like

    path = tmp_path / "book.xlsx"
    # As Excel writes them: "\r" as _x000D_, a literal "_x000D_" with its underscore escaped.
    cells = ["two\nlines", "a_x000D_\nb", "lit_x005F_x000D_", "nul _x0000_ bell _x0007_"]
    excel_like(path, [XLSX_HEADER] + [
        [600004, f"X{n}", text, 1, datetime(2011, 3, 6, 9, 0), 1.5, 90001, "Spain"]
        for n, text in enumerate(cells)])
    found = [line.description for _, line in iter_lines(path)]
    assert found == ["two\nlines", "a\r\nb", "lit_x000D_", "nul \x00 bell \x07"]


def rejects_of(result) -> list[dict]:
    listed = json.loads(result.stdout)
    return listed["rejects"] if isinstance(listed, dict) else listed


@pytest.mark.slow
def test_hostile_descriptions_travel_the_whole_pipeline_exactly(tmp_path):
    home = tmp_path / "home"
    source = tmp_path / "hostile.csv"
    source.write_text(rfc4180([HEADER, *source_rows(DESCRIPTIONS)]), encoding="utf-8",
                      newline="")
    unstorable = tmp_path / "unstorable.parquet"
    parquet_with_raw_descriptions(unstorable, [b"lone \xed\xa0\x80 surrogate",
                                               b"fine\r\nline"])
    try:
        started = orderhist(home, "up")
        assert started.returncode == 0, started.stderr

        generated = orderhist(home, "generate", "--source", str(source), "--count",
                              str(len(DESCRIPTIONS)), "--wait", "--timeout", "120", "--json")
        assert generated.returncode == 0, generated.stderr
        summary = json.loads(generated.stdout)
        assert (summary["stored"], summary["rejected"]) == (len(DESCRIPTIONS), 0)

        shown = orderhist(home, "orders", "--customer", CUSTOMER, "--invoice", INVOICE, "--json")
        assert shown.returncode == 0, shown.stderr
        lines = json.loads(shown.stdout)["orders"][0]["lines"]
        assert [line["description"] for line in lines] == DESCRIPTIONS

        # A later run is not disturbed by an earlier reject whose raw line holds an unquoted
        # newline (what the old generator wrote), and a row DynamoDB cannot store is refused
        # alone, with its reason, while its neighbour is stored.
        put_raw(home, b"600003,P9,RED\nHEART,1,2011-03-05T10:00:00,2.5,90001,France,9,"
                      b"2026-01-01T00:00:00.000Z\n")
        mixed = orderhist(home, "generate", "--source", str(unstorable), "--count", "2",
                          "--wait", "--timeout", "120", "--json")
        assert mixed.returncode == 0, mixed.stderr
        summary = json.loads(mixed.stdout)
        assert (summary["stored"], summary["rejected"]) == (1, 1)
        listed = orderhist(home, "rejects", "--json")
        assert listed.returncode == 0, listed.stderr
        reasons = sorted(reject["reason"] for reject in rejects_of(listed))
        assert len(reasons) == 2, reasons
        assert "Description holds a lone surrogate U+D800" in reasons[0]
        assert "more than one line" in reasons[1]
        shown = orderhist(home, "orders", "--customer", CUSTOMER, "--invoice", "600002",
                          "--json")
        assert [line["description"] for line in json.loads(shown.stdout)["orders"][0]["lines"]] \
            == ["fine\r\nline"]
    finally:  # a failed assertion must not leave the stack's processes running
        down = orderhist(home, "down")
    assert down.returncode == 0, down.stderr
