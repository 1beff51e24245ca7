"""The order line: parsing, validation, normalisation and the round trips between forms."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from orderhist import records
from orderhist.records import RecordError


def line(**changes) -> records.OrderLine:
    fields = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": 'HEART, "RED" ',
              "Quantity": "6", "InvoiceDate": "2010-12-01T08:26:00", "UnitPrice": "2.55",
              "CustomerID": "17850", "Country": "United Kingdom", "LineNo": "1",
              "EmittedAt": "2026-11-28T04:29:05.123Z"}
    fields.update(changes)
    return records.from_fields(fields)


def test_log_line_round_trip_keeps_quotes_commas_and_spaces():
    original = line()
    text = records.to_log_line(original)
    assert '"HEART, ""RED"" "' in text
    assert records.parse_log_line(text) == original
    assert records.parse_wire((text + "\r\n").encode()) == original


def test_csvtojson_object_with_the_seeds_field_names_is_accepted():
    obj = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "X", "Quantity": "6",
           "InvoiceDate": "2010-12-01T08:26:00", "UnitPrice": "2.55", "Customer": "17850.0",
           "Country": "United Kingdom\r", "LineNo": "7", "EmittedAt": None}
    parsed = records.parse_wire((json.dumps(obj) + "\n").encode())
    assert parsed.customer_id == "17850" and parsed.country == "United Kingdom"
    assert parsed.line_no == 7 and parsed.emitted_at is None


@pytest.mark.parametrize("value, expected", [
    ("17850", "17850"), ("17850.0", "17850"), (17850.0, "17850"), ("", None), (None, None),
    (float("nan"), None), (" 12346 ", "12346")])
def test_customer_ids_are_normalised(value, expected):
    assert records.normalise_customer_id(value) == expected


def test_guest_lines_get_a_partition_of_their_invoice():
    guest = line(CustomerID="")
    assert guest.partition_key == "GUEST#536365"
    assert guest.sort_key == "2010-12-01T08:26:00#536365#0000001"
    assert records.from_item(records.to_item(guest, "x")).customer_id is None


def test_a_sort_key_parses_back_into_date_invoice_and_line():
    original = line(InvoiceNo="C556445", LineNo="541909")
    assert records.OrderLine.parse_sort_key(original.sort_key) == (
        original.invoice_date, "C556445", 541909)
    for bad in ("", "2010-12-01T08:26:00#536365", "2010-12-01T08:26:00#536365#x1"):
        with pytest.raises(records.RecordError):
            records.OrderLine.parse_sort_key(bad)


def test_item_round_trip_is_exact():
    original = line(UnitPrice="38970.00", Quantity="-80995", InvoiceNo="C556445")
    item = records.to_item(original, "2026-11-28T04:29:05.200Z")
    assert item["UnitPrice"] == {"N": "38970.00"} and item["Cancelled"] == {"BOOL": True}
    assert records.from_item(item) == original
    assert original.amount == Decimal("-3156375150.00")


@pytest.mark.parametrize("changes, reason", [
    ({"Quantity": "6.5"}, "Quantity"),
    ({"Quantity": "six"}, "Quantity"),
    ({"UnitPrice": "abc"}, "UnitPrice"),
    ({"UnitPrice": "NaN"}, "UnitPrice"),
    ({"InvoiceDate": "12/1/2010 8:26"}, "InvoiceDate"),
    ({"LineNo": "x"}, "LineNo"),
    ({"LineNo": "0"}, "LineNo"),
    ({"InvoiceNo": ""}, "InvoiceNo"),
    ({"InvoiceNo": "5363#65"}, "InvoiceNo"),
    ({"StockCode": " "}, "StockCode"),
    ({"CustomerID": "17#850"}, "CustomerID"),
    ({"Description": "x" * (records.MAX_TEXT_BYTES + 1)}, "Description"),
])
def test_invalid_fields_are_refused_with_the_field_named(changes, reason):
    with pytest.raises(RecordError, match=reason):
        line(**changes)


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xfe\x00", "UTF-8"),
    (b"", "empty"),
    (b"{not json", "JSON"),
    (b"[1, 2]", "fields"),
    (b"a,b,c", "fields"),
    (b'"unterminated,1,2,3,4,5,6,7,8,9', "CSV"),
])
def test_poison_on_the_wire_is_a_record_error(data, reason):
    with pytest.raises(RecordError, match=reason):
        records.parse_wire(data)


def test_dates_with_offsets_are_stored_in_utc():
    assert records.normalise_date("2010-12-01T09:26:00+01:00") == "2010-12-01T08:26:00"
    assert records.normalise_date("2010-12-01 08:26") == "2010-12-01T08:26:00"


# ---------------------------------------------------------------------------------------------
# Hostile descriptions: every value a dataset can hold survives the log line, CSVTOJSON and the
# Lambda's parser exactly, or is refused alone with its reason.

HOSTILE_DESCRIPTIONS = {
    "newline": "RED\nHEART", "crlf": "RED\r\nHEART", "cr": "RED\rHEART",
    "line separator": "RED\u2028HEART", "paragraph separator": "RED\u2029HEART",
    "next line": "RED\x85HEART", "vertical tab": "RED\x0bHEART", "form feed": "RED\x0cHEART",
    "file/group/record separators": "\x1c\x1d\x1e", "tab": "RED\tHEART", "nul": "RED\x00HEART",
    "quotes": '"RED" ""HEART""', "commas": ",RED,,HEART,", "backslash": "C:\\orders\\",
    "literal backslash-n text": "not a break: \\n, \\r, \\0, \\x0B, \\u2028",
    "trailing backslash": "ends with \\", "emoji": "gift \U0001F381 \u2764\ufe0f",
    "rtl": "\u05dc\u05d1 \u05d0\u05d3\u05d5\u05dd \u0642\u0644\u0628",
    "combining": "Cafe\u0301 n\u0303",
    "only a newline": "\n", "spaces": "  padded  ", "300,000 bytes": "\u00e9" * 150_000,
    "everything": "a\\\n\r\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\t\",\U0001F381\\u0041",
}


def agent_csvtojson(text: str) -> bytes:
    """The project's agent's CSVTOJSON, as `orderhist up` configures it."""
    from pathlib import Path

    from orderhist.agent.config import CsvToJson, FlowConfig
    from orderhist.agent.processing import LineProcessor

    flow = FlowConfig(file_pattern="/tmp/*.log", directory=Path("/tmp"), name_glob="*.log",
                      stream="s", partition_key="CustomerID",
                      csv_to_json=CsvToJson(field_names=records.LOG_COLUMNS))
    converted = LineProcessor(flow).convert((text + "\n").encode("utf-8"))
    assert converted.converted
    return converted.data


@pytest.mark.parametrize("description", HOSTILE_DESCRIPTIONS.values(),
                         ids=HOSTILE_DESCRIPTIONS.keys())
def test_hostile_descriptions_survive_the_log_line_and_csvtojson(description):
    original = line(Description=description)
    text = records.to_log_line(original)
    # One line for every reader: the agent's split on "\n" and str.splitlines alike.
    assert len(text.splitlines()) == 1 and "\n" not in text and "\x00" not in text
    text.encode("utf-8")
    assert records.parse_log_line(text) == original
    assert records.parse_wire((text + "\n").encode("utf-8")) == original
    data = agent_csvtojson(text)
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert records.parse_wire(data) == original
    assert records.from_item(records.to_item(original, "x")).description == description


def test_the_real_agents_naive_csvtojson_reads_the_same():
    """The Java agent splits on every comma: for a line without quoted commas its JSON carries
    the escaped text as it is, and the handler unescapes it to the same value."""
    original = line(Description="RED\nHEART\u2028\\n\x00")
    written = (records.to_log_line(original) + "\n").encode("utf-8")
    lines = written.split(b"\n")[:-1]  # the agent's reader: whole lines, cut at "\n"
    assert len(lines) == 1
    fields = lines[0].decode("utf-8").split(",")
    naive = json.dumps(dict(zip(records.LOG_COLUMNS, fields)), ensure_ascii=False)
    assert records.parse_wire((naive + "\n").encode("utf-8")) == original


def test_a_lone_surrogate_is_written_and_then_refused_with_its_reason():
    original = line(Description="broken \ud800 text")
    text = records.to_log_line(original)  # the generator must not crash on it
    assert "\\uD800" in text
    assert records.parse_log_line(text) == original
    for data in (text.encode("utf-8"), agent_csvtojson(text)):
        with pytest.raises(RecordError, match=r"Description holds a lone surrogate U\+D800"):
            records.parse_wire(data)


def test_a_backslash_that_starts_no_escape_is_refused_naming_the_field():
    text = records.to_log_line(line()).replace("HEART", "HE\\qART", 1)
    with pytest.raises(RecordError, match="Description holds a backslash that starts no escape"):
        records.parse_wire(text.encode("utf-8"))


def test_a_description_whose_escapes_would_overflow_a_record_is_refused():
    with pytest.raises(RecordError, match="Description is longer than .* as the log line"):
        line(Description="\x0b" * 100_000)
