"""agent.json checks and the line -> record conversion (no emulator needed, except the CLI
case, which runs the real command)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.agent import REGION
from helpers.lines import order_line
from orderhist import records
from orderhist.agent import load_config, local_agent_config
from orderhist.agent.config import parse_config
from orderhist.agent.processing import LineProcessor
from orderhist.errors import UsageProblem


def base_config(tmp_path: Path, **flow) -> dict:
    (tmp_path / "logs").mkdir(exist_ok=True)
    config = local_agent_config(log_dir=tmp_path / "logs", stream_name="s",
                                endpoint="http://127.0.0.1:1", region=REGION,
                                checkpoint_file=tmp_path / "cp.json")
    config["flows"][0].update(flow)
    return config


def problem(tmp_path: Path, config) -> str:
    path = tmp_path / "agent.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    with pytest.raises(UsageProblem) as caught:
        load_config(path)
    return str(caught.value)


def test_local_config_is_valid_and_low_latency(tmp_path):
    config = parse_config(base_config(tmp_path), tmp_path / "agent.json")
    flow = config.flows[0]
    assert flow.name_glob == "*.log" and flow.directory == tmp_path / "logs"
    assert flow.partition_key == "CustomerID" and flow.initial_position == "START_OF_FILE"
    assert flow.csv_to_json.field_names == records.LOG_COLUMNS
    assert flow.max_buffer_age_ms == 100
    assert config.endpoint == "http://127.0.0.1:1" and config.region == REGION
    assert config.warnings == ()


@pytest.mark.parametrize("change, key", [
    ({"maxBufferSizeRecords": 501}, "maxBufferSizeRecords"),
    ({"maxBufferSizeRecords": 0}, "maxBufferSizeRecords"),
    ({"maxBufferSizeBytes": 5 * 1024 * 1024 + 1}, "maxBufferSizeBytes"),
    ({"maxBufferAgeMillis": 49}, "maxBufferAgeMillis"),
    ({"maxBufferAgeMillis": "soon"}, "maxBufferAgeMillis"),
    ({"initialPosition": "MIDDLE"}, "initialPosition"),
    ({"partitionKeyOption": "Nope"}, "partitionKeyOption"),
    ({"kinesisStream": ""}, "kinesisStream"),
    ({"skipHeaderLines": -1}, "skipHeaderLines"),
    ({"dataProcessingOptions": [{"optionName": "LOGTOJSON"}]}, "optionName"),
    ({"dataProcessingOptions": [{"optionName": "CSVTOJSON"}]}, "customFieldNames"),
    ({"dataProcessingOptions": [{"optionName": "CSVTOJSON", "customFieldNames": ["a"],
                                 "delimiter": ";;"}]}, "delimiter"),
    ({"multiLineStartPattern": "^x"}, "multiLineStartPattern"),
])
def test_bad_flow_values_name_the_key(tmp_path, change, key):
    assert key in problem(tmp_path, base_config(tmp_path, **change))


def test_bad_files_name_the_problem(tmp_path):
    assert "not valid JSON" in problem(tmp_path, "{flows: [")
    assert "`flows`" in problem(tmp_path, {"checkpointFile": str(tmp_path / "c")})
    assert "`flows`" in problem(tmp_path, {"flows": []})
    missing = base_config(tmp_path, filePattern=str(tmp_path / "nowhere" / "*.log"))
    message = problem(tmp_path, missing)
    assert "filePattern" in message and "does not exist" in message
    wild_dir = base_config(tmp_path, filePattern=str(tmp_path / "*" / "a.log"))
    assert "filePattern" in problem(tmp_path, wild_dir)
    no_pattern = base_config(tmp_path)
    del no_pattern["flows"][0]["filePattern"]
    assert "filePattern" in problem(tmp_path, no_pattern)
    with pytest.raises(UsageProblem, match="does not exist"):
        load_config(tmp_path / "absent.json")


def test_unknown_keys_are_warned_not_fatal(tmp_path):
    config = base_config(tmp_path, colour="blue", truncatedRecordTerminator="\n")
    config["cloudwatch.emitMetrics"] = False
    config["mystery"] = 1
    warnings = "\n".join(parse_config(config, tmp_path / "agent.json").warnings)
    assert "`flows[0].colour`" in warnings and "`mystery`" in warnings
    assert "cloudwatch.emitMetrics" in warnings and "truncatedRecordTerminator" in warnings


def test_real_agent_spellings_are_accepted(tmp_path):
    config = base_config(tmp_path, maxBufferSizeRecords="250", dataProcessingOptions=[{
        "optionName": "CSVTOJSON", "customFieldNames": ["a", "b"], "delimiter": "\\t"}],
        partitionKeyOption="DETERMINISTIC")
    config["kinesis.endpoint"] = "kinesis.eu-west-1.amazonaws.com"
    del config["kinesis.region"]
    parsed = parse_config(config, tmp_path / "agent.json")
    assert parsed.flows[0].max_buffer_records == 250
    assert parsed.flows[0].csv_to_json.delimiter == "\t"
    assert parsed.endpoint == "https://kinesis.eu-west-1.amazonaws.com"


def test_cli_exits_2_naming_the_key(tmp_path):
    config = base_config(tmp_path, maxBufferSizeRecords=900)
    (tmp_path / "agent.json").write_text(json.dumps(config))
    (tmp_path / "broken.json").write_text("not json")
    for name, expected in (("agent.json", "maxBufferSizeRecords"), ("broken.json", "JSON")):
        done = subprocess.run(
            [sys.executable, "-m", "orderhist", "--home", str(tmp_path / "home"), "agent",
             "run", "--config", str(tmp_path / name)],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ processing

def processor(tmp_path, **flow) -> LineProcessor:
    return LineProcessor(parse_config(base_config(tmp_path, **flow), tmp_path / "a.json").flows[0])


def test_csvtojson_keeps_quoted_commas_and_quotes(tmp_path):
    line = order_line(7, description='SET OF 3 "CAKE", TINS, PANTRY DESIGN ')
    converted = processor(tmp_path).convert(line.encode())
    assert converted.converted and converted.data.endswith(b"\n")
    fields = json.loads(converted.data)
    assert list(fields) == list(records.LOG_COLUMNS)
    assert fields["Description"] == 'SET OF 3 "CAKE", TINS, PANTRY DESIGN '
    assert fields["LineNo"] == "7" and converted.partition_key == "17850"
    assert records.parse_wire(converted.data) == records.parse_log_line(line)


def test_csvtojson_like_the_real_agent_on_short_and_long_rows(tmp_path):
    flow = {"dataProcessingOptions": [{"optionName": "CSVTOJSON",
                                       "customFieldNames": ["a", "b", "c"]}],
            "partitionKeyOption": "a"}
    convert = processor(tmp_path, **flow).convert
    assert json.loads(convert(b"1, two\r\n").data) == {"a": "1", "b": " two", "c": None}
    assert json.loads(convert(b"1,2,3,4\n").data) == {"a": "1", "b": "2", "c": "3"}
    broken = convert(b'1,"unclosed\n')  # not CSV: sent as written, as the real agent does
    assert not broken.converted and broken.data == b'1,"unclosed\n'
    assert convert("x,£,y\n".encode()).data == '{"a":"x","b":"£","c":"y"}\n'.encode()


def test_partition_keys(tmp_path):
    guest = order_line(3, customer=None, invoice="536999").encode()
    assert processor(tmp_path).convert(guest).partition_key == "536999"
    deterministic = processor(tmp_path, partitionKeyOption="DETERMINISTIC")
    first, again = deterministic.convert(guest), deterministic.convert(guest)
    assert first.partition_key == again.partition_key and len(first.partition_key) == 32
    random_keys = {processor(tmp_path, partitionKeyOption="RANDOM").convert(guest).partition_key
                   for _ in range(5)}
    assert len(random_keys) == 5 and all(0 <= float(k) < 1_000_000 for k in random_keys)
    raw = processor(tmp_path, dataProcessingOptions=[], partitionKeyOption="CustomerID")
    assert raw.convert(b'{"CustomerID": "12583", "x": 1}\n').partition_key == "12583"
    assert raw.convert(b"plain line\n").data == b"plain line\n"
