"""`up --faults`: with a tenth of PutRecords entries, BatchWriteItem items and GetRecords
calls failing (and a few 500s), every generated line is still stored exactly once."""
from __future__ import annotations

import json

import pytest

from helpers.cli import orderhist
from orderhist import aws, emulator

LINES = 3_000


@pytest.mark.slow
def test_every_line_stored_once_under_injected_faults(tmp_path):
    home = tmp_path / "home"
    try:
        started = orderhist(home, "up", "--faults", "0.1", "--fault-seed", "7")
        assert started.returncode == 0, started.stderr
        generated = orderhist(home, "generate", "--count", str(LINES), "--wait", "--timeout",
                              "300", "--json", timeout=400)
        assert generated.returncode == 0, generated.stderr
        summary = json.loads(generated.stdout)
        assert summary["stored"] == LINES and summary["missing"] == 0

        state = json.loads((home / "state.json").read_text())
        injected = emulator.control(state["endpoint"], "faults")
        assert injected["rate"] == 0.1
        assert sum(injected["injected"].values()) > 0  # the retry paths were exercised

        target = aws.Target("local", state["region"], state["endpoint"])
        dynamodb = aws.client("dynamodb", target)
        line_numbers, request = [], {"TableName": state["resources"]["table"]["id"],
                                     "ProjectionExpression": "LineNo", "ConsistentRead": True}
        while True:
            page = dynamodb.scan(**request)
            line_numbers += [int(item["LineNo"]["N"]) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        assert sorted(line_numbers) == list(range(1, LINES + 1))  # each once, none missing

        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert status["agent"]["retries"] > 0
    finally:
        orderhist(home, "down")
