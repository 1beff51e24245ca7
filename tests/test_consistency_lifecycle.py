"""`up`, `up` again, `down`, `up` at once against AWS's eventual consistency (the emulator's
consistency mode), for both targets: new roles not yet usable, streams and tables CREATING
and DELETING, a deleted queue's name refused for 60 s. Each injected refusal is met, and
waited or retried through."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers.aws_target import run_aws
from helpers.cli import orderhist


def met(endpoint: str) -> dict:
    with urllib.request.urlopen(f"{endpoint}/_orderhist/consistency") as reply:
        return json.loads(reply.read())["met"]


@pytest.fixture
def eventual(tmp_path):
    """`orderhist emulator serve --consistency-delay 5`, as the README shows it."""
    port_file = tmp_path / "port.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "emulator", "serve", "--port-file", str(port_file),
         "--consistency-delay", "5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    yield f"http://127.0.0.1:{json.loads(port_file.read_text())['port']}"
    process.terminate()
    process.wait(10)


@pytest.mark.slow
def test_aws_target_up_down_up_at_once_through_eventual_consistency(eventual, tmp_path):
    home = tmp_path / "home"
    up = ["up", "--target", "aws", "--endpoint-url", eventual, "--region", "us-east-1"]
    first = run_aws(home, eventual, *up)
    assert first.returncode == 0, first.stderr
    again = run_aws(home, eventual, *up)
    assert again.returncode == 0, again.stderr
    assert "0 created" in again.stdout
    down = run_aws(home, eventual, "down", "--yes")
    assert down.returncode == 0, down.stderr
    started = time.monotonic()
    back = run_aws(home, eventual, *up)
    assert back.returncode == 0, back.stderr
    assert time.monotonic() - started >= 50  # it waited out the queue name's cool-down
    assert "13 created" in back.stdout
    seen = met(eventual)
    for refusal in ("CreateFunction: InvalidParameterValueException",
                    "CreateQueue: QueueDeletedRecently", "DescribeStream: CREATING",
                    "DescribeTable: CREATING", "EventSourceMapping: Creating",
                    "instance: shutting-down"):
        assert seen.get(refusal), (refusal, seen)
    assert seen.get("CreateStream: ResourceInUseException") or \
        seen.get("DescribeStreamSummary: DELETING"), seen
    assert run_aws(home, eventual, "down", "--yes").returncode == 0


@pytest.mark.slow
def test_local_target_up_again_down_up_through_eventual_consistency(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ORDERHIST_CONSISTENCY_DELAY", "2")
    try:
        for step in (["up"], ["up"], ["down"], ["up"]):
            done = orderhist(home, *step)
            assert done.returncode == 0, (step, done.stderr)
        state = json.loads((home / "state.json").read_text())
        assert met(state["endpoint"]).get("CreateFunction: InvalidParameterValueException")
        generated = orderhist(home, "generate", "--count", "20", "--wait", "--json")
        assert json.loads(generated.stdout)["stored"] == 20
    finally:
        orderhist(home, "down")
