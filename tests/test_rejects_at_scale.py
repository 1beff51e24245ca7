"""Thousands of poison records through the real pipeline (CLI, emulator, agent, runtime):
`rejects` lists every one of them, and `generate --wait` is neither slowed nor misled by
them and keeps to its --timeout."""
from __future__ import annotations

import json
import time

import pytest

from helpers.cli import orderhist, up_local
from helpers.waiting import wait_until
from orderhist import aws

POISON = 3_000


@pytest.mark.slow
def test_thousands_of_rejects_are_all_listed_and_do_not_hold_up_good_lines(tmp_path):
    home = tmp_path / "home"
    try:
        state, target = up_local(home)
        kinesis = aws.client("kinesis", target)
        stream = state["resources"]["stream"]["id"].rsplit("/", 1)[-1]
        for start in range(0, POISON, 500):
            reply = kinesis.put_records(StreamName=stream, Records=[
                {"Data": b"garbage\n", "PartitionKey": str(start + n)} for n in range(500)])
            assert reply["FailedRecordCount"] == 0

        def refused() -> int:
            report = json.loads(orderhist(home, "status", "--json").stdout)
            return report["rejects"] == POISON
        wait_until(refused, 120, interval=0.5,
                   message=f"{POISON} rejects")

        # While they are all kept, good lines are followed as fast as ever, within --timeout.
        began = time.monotonic()
        generated = orderhist(home, "generate", "--count", "2000", "--wait", "--timeout", "10",
                              "--json")
        took = time.monotonic() - began
        assert generated.returncode == 0, generated.stderr
        summary = json.loads(generated.stdout)
        assert (summary["stored"], summary["rejected"], summary["missing"]) == (2000, 0, 0)
        assert took < 10 + 5  # the bound, plus writing the lines and starting Python

        listed = orderhist(home, "rejects", "--json")
        assert listed.returncode == 0, listed.stderr
        rejects = json.loads(listed.stdout)
        assert len(rejects) == POISON
        assert len({(r["shardId"], r["sequenceNumber"]) for r in rejects}) == POISON
        assert {r["data"] for r in rejects} == {"garbage\n"}
        arrivals = [r["arrivedAt"] for r in rejects]
        assert arrivals == sorted(arrivals)  # oldest first

        table = orderhist(home, "rejects")
        assert table.returncode == 0 and f"{POISON:,} rejects, 1 reason" in table.stdout
        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert status["table"]["items"] == 2000  # order lines; the rejects counted apart
    finally:
        orderhist(home, "down")
