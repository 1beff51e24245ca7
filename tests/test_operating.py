"""Operating the pipeline (issue 16) through the real CLI against a real local stack: watch
(its screen captured from a tmux pseudo-terminal while lines flow, and --once --json against
known counts), logs (the function's Lambda framing; --follow within 2 s), env with the real
AWS CLI, rejects grouped and cleared, status's verdict, generate --wait's progress bar."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from helpers.cli import MISLEADING_AWS, orderhist

pytestmark = pytest.mark.slow

POISON = [
    '"an unterminated quote\n',
    "C1,A,desc,abc,2010-12-01T08:26:00,1,17850,UK,1,2026-01-01T00:00:00.000Z\n",
    "C2,A,desc,xyz,2010-12-01T08:26:00,1,17850,UK,2,2026-01-01T00:00:00.000Z\n",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("ops") / "home"
    up = orderhist(home, "up")
    assert up.returncode == 0, up.stderr
    generated = orderhist(home, "generate", "--count", "300", "--wait", "--json")
    assert generated.returncode == 0, generated.stderr
    # Poison lines straight into the host's log, as a broken writer would leave them.
    with open(sorted((home / "host" / "orders").glob("*.log"))[-1], "a") as log:
        log.writelines(POISON)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = json.loads(orderhist(home, "rejects", "--json").stdout or "[]")
        if len(found) == len(POISON):
            break
        time.sleep(0.3)
    try:
        yield home
    finally:
        orderhist(home, "down")


def env_for(home: Path) -> dict:
    env = {**os.environ, **MISLEADING_AWS, "ORDERHIST_HOME": str(home)}
    return env


def test_watch_once_json_counts_what_was_written(stack):
    # The agent and the runtime write their stats about once a second: a moment to settle.
    deadline = time.monotonic() + 10
    while True:
        result = orderhist(stack, "watch", "--once", "--json")
        assert result.returncode == 0, result.stderr
        snapshot = json.loads(result.stdout)
        counts = snapshot["counts"]
        # Each process's stats lag its work by a second, more under load: wait for both.
        if (counts["shipped"], counts["streamed"]) == (303, 303) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert snapshot["counts"] == {"written": 303, "shipped": 303, "streamed": 303,
                                  "invocations": snapshot["counts"]["invocations"],
                                  "stored": 300, "rejects": 3}
    assert snapshot["stored"] == 300 and snapshot["counts"]["invocations"] >= 2
    assert snapshot["lag"] == {"millis_behind_latest": 0, "records_behind": 0}
    assert snapshot["latency_ms"]["lines"] > 0 and snapshot["latency_ms"]["p50"] > 0
    assert snapshot["verdict"]["level"] == "ok", snapshot["verdict"]
    assert orderhist(stack, "watch", "--json").returncode == 2


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_watch_screen_while_lines_flow(stack):
    session = f"ohwatch{os.getpid()}"
    command = f"{sys.executable} -m orderhist --home {stack} watch --interval 0.5"
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "20",
          "env", *[f"{k}={v}" for k, v in MISLEADING_AWS.items()], *command.split())
    try:
        time.sleep(2)
        writer = subprocess.Popen([sys.executable, "-m", "orderhist", "--home", str(stack),
                                   "generate", "--count", "3000", "--rate", "1000"],
                                  env=env_for(stack), stdout=subprocess.DEVNULL)
        screens = []
        for _ in range(8):
            time.sleep(0.8)
            screens.append(_tmux("capture-pane", "-p", "-t", session))
        writer.wait(60)
        flowing = [s for s in screens if "storing" in s]
        assert flowing, screens[-1]
        screen = flowing[-1]
        for label in ("written on host", "shipped by agent", "read from stream",
                      "invocations", "stored in table", "rejects", "latency p50"):
            assert label in screen, screen
        # A rate above zero and a sparkline that moved.
        stored_row = next(line for line in screen.splitlines() if "stored in table" in line)
        assert any(bar in stored_row for bar in "▂▃▄▅▆▇█"), stored_row
        assert "verdict: healthy" in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_logs_show_lambda_framing_and_every_source(stack):
    function = orderhist(stack, "logs", "function")
    assert function.returncode == 0, function.stderr
    lines = function.stdout.splitlines()
    starts = [line for line in lines if " START RequestId: " in line]
    reports = [line for line in lines if " REPORT RequestId: " in line]
    assert starts and len(starts) == len(reports)
    assert all("Version: $LATEST" in line for line in starts)
    for field in ("Duration: ", "Billed Duration: ", "Memory Size: ", "Max Memory Used: "):
        assert field in reports[0]
    assert "Init Duration: " in reports[0]
    assert any("refused" in line and "is not an integer" in line for line in lines)
    # The processes' own lines carry a UTC stamp with milliseconds: what interleaving sorts by.
    raw = (stack / "logs" / "runtime.log").read_text().splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ", raw), raw
    every = orderhist(stack, "logs").stdout.splitlines()
    sources = {line.split()[0] for line in every}
    assert {"agent", "runtime", "function", "emulator"} <= sources
    stamps = [line.split()[1] for line in every]
    assert stamps == sorted(stamps)
    recent = orderhist(stack, "logs", "--since", "1s").stdout.splitlines()
    assert len(recent) < len(every)
    assert orderhist(stack, "logs", "--since", "yesterday").returncode == 2


def test_logs_follow_shows_a_new_invocation_within_2_s(stack):
    follower = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(stack), "logs", "function",
         "--follow"], stdout=subprocess.PIPE, env=env_for(stack))
    try:
        read_for(follower.stdout.fileno(), 2.0)  # what was there is printed first
        marker = "Z9,A,desc,bad,2010-12-01T08:26:00,1,17850,UK,9,2026-01-01T00:00:00.000Z\n"
        with open(sorted((stack / "host" / "orders").glob("*.log"))[-1], "a") as log:
            log.write(marker)
        buffer, deadline = "", time.monotonic() + 20
        while time.monotonic() < deadline and "REPORT RequestId" not in buffer:
            buffer += read_for(follower.stdout.fileno(), 0.05)
        seen = time.time()
        report = next(line for line in buffer.splitlines() if "REPORT RequestId" in line)
        written = datetime_of(report.split()[0])
        assert seen - written < 2.0, (seen - written, buffer)
        assert "START RequestId" in buffer and "refused" in buffer
        assert buffer.count("START RequestId") == buffer.count("REPORT RequestId")
    finally:
        follower.terminate()
        follower.wait(10)


def read_for(fd: int, seconds: float) -> str:
    """What the pipe gives within `seconds`."""
    data, deadline = b"", time.monotonic() + seconds
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return data.decode("utf-8", "replace")
        chunk = os.read(fd, 65536)
        if not chunk:
            return data.decode("utf-8", "replace")
        data += chunk


def datetime_of(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_env_points_the_aws_cli_at_the_local_stack(stack):
    aws_cli = Path(sys.executable).with_name("aws")
    script = (f'eval "$({sys.executable} -m orderhist env)" && '
              f'{aws_cli} dynamodb query --table-name orderhist-orders '
              '--key-condition-expression "CustomerID = :c" '
              '--expression-attribute-values \'{":c": {"S": "17850"}}\' --output json && '
              f'{aws_cli} kinesis describe-stream-summary --stream-name orderhist-orders '
              '--output json')
    # The shell's misleading AWS settings are what `env` must override or unset.
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            env=env_for(stack), timeout=120)
    assert result.returncode == 0, result.stderr
    decoder, text = json.JSONDecoder(), result.stdout.strip()
    query, end = decoder.raw_decode(text)
    stream = json.loads(text[end:])
    assert query["Count"] > 0 and all(i["CustomerID"]["S"] == "17850" for i in query["Items"])
    assert stream["StreamDescriptionSummary"]["StreamName"] == "orderhist-orders"
    for shell, expected in (("fish", "set -gx AWS_ENDPOINT_URL"),
                            ("powershell", "$Env:AWS_ENDPOINT_URL = ")):
        assert expected in orderhist(stack, "env", "--shell", shell).stdout


def test_status_carries_the_verdict_and_its_cost_does_not_grow_with_the_data(stack):
    result = orderhist(stack, "status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"]["level"] in ("ok", "warn") and report["verdict"]["text"]
    assert "verdict: " in orderhist(stack, "status").stdout

    from orderhist import refusals, stack_status
    from orderhist.state import Home

    home = Home(stack)
    stack_status.status(home)  # clients made, models loaded: what is left is the calls
    started = time.monotonic()
    stack_status.status(home)
    before = time.monotonic() - started
    state = json.loads((stack / "state.json").read_text())
    local = {"endpoint_url": state["endpoint"], "region_name": "us-east-1",
             "aws_access_key_id": "orderhist-local",
             "aws_secret_access_key": "orderhist-local-secret"}
    sqs, dynamodb = boto3.client("sqs", **local), boto3.client("dynamodb", **local)
    queue = state["resources"]["queue"]["id"]
    for start in range(0, 2000, 10):
        sqs.send_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(n), "MessageBody": json.dumps({"n": start + n})} for n in range(10)])
    refused = [refusals.reject_to_item({
        "reason": "bulk", "data": "x", "dataEncoding": "text", "shardId": "shardId-9",
        "sequenceNumber": str(10 ** 20 + n), "arrivedAt": "2026-01-01T00:00:00.000Z"})
        for n in range(2000)]
    for start in range(0, len(refused), 25):
        dynamodb.batch_write_item(RequestItems={"orderhist-orders": [
            {"PutRequest": {"Item": item}} for item in refused[start:start + 25]]})
    try:
        started = time.monotonic()
        after_report = stack_status.status(home)
        after = time.monotonic() - started
        assert after_report.rejects >= 4000
        assert after < max(1.0, before * 2), (before, after)
    finally:
        sqs.purge_queue(QueueUrl=queue)
        for start in range(0, len(refused), 25):
            dynamodb.batch_write_item(RequestItems={"orderhist-orders": [
                {"DeleteRequest": {"Key": refusals.reject_key({
                    "shardId": "shardId-9", "sequenceNumber": str(10 ** 20 + n),
                    "arrivedAt": "2026-01-01T00:00:00.000Z"})}}
                for n in range(start, min(start + 25, len(refused)))]})


def test_generate_wait_progress_only_on_a_terminal(stack):
    piped = orderhist(stack, "generate", "--count", "2000", "--wait")
    assert piped.returncode == 0 and "pending" not in piped.stdout and "\x1b" not in piped.stdout
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(stack), "generate", "--count",
         "20000", "--wait"], stdin=follower, stdout=follower, stderr=follower,
        env={**env_for(stack), "COLUMNS": "160"})
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(60)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    assert process.returncode == 0, text[-2000:]
    assert "pending" in text and "lines/s" in text and "ETA" in text
    assert "stored 20000, rejected 0, missing 0" in text


def test_rejects_grouped_by_reason_and_cleared(stack):
    listing = orderhist(stack, "rejects")
    assert listing.returncode == 0, listing.stderr
    before = json.loads(orderhist(stack, "rejects", "--json").stdout)
    quantity = sum("is not an integer" in r["reason"] for r in before)
    assert quantity >= 2 and len(before) == quantity + 1  # (the follow test adds one)
    assert f"{len(before)} rejects, 2 reasons" in listing.stdout
    assert "Quantity '…' is not an integer" in listing.stdout
    assert '"an unterminated quote' in listing.stdout  # the example, as it came
    # A batch the mapping gave up on, as Lambda sends it to the OnFailure queue.
    state = json.loads((stack / "state.json").read_text())
    sqs = boto3.client("sqs", endpoint_url=state["endpoint"], region_name="us-east-1",
                       aws_access_key_id="orderhist-local",
                       aws_secret_access_key="orderhist-local-secret")
    batch = {"requestContext": {"condition": "RetryAttemptsExhausted",
                                "approximateInvokeCount": 3},
             "timestamp": "2026-01-01T00:00:00.000Z", "version": "1.0",
             "KinesisBatchInfo": {"shardId": "shardId-000000000000",
                                  "startSequenceNumber": "1", "endSequenceNumber": "2",
                                  "batchSize": 2, "streamArn": "arn:x"}}
    sqs.send_message(QueueUrl=state["resources"]["queue"]["id"], MessageBody=json.dumps(batch))
    one = orderhist(stack, "rejects", "--limit", "1")
    assert f"{len(before) + 1} rejects, 3 reasons (the 1 largest shown" in one.stdout
    cleared = orderhist(stack, "rejects", "--limit", "1", "--clear", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert f"deleted {quantity} rejects" in cleared.stdout, cleared.stdout
    left = json.loads(orderhist(stack, "rejects", "--json").stdout)
    assert len(left) == 2 and not any("is not an integer" in r.get("reason", "") for r in left)
    refused = subprocess.run(
        [sys.executable, "-m", "orderhist", "--home", str(stack), "rejects", "--all", "--clear"],
        input="n\n", capture_output=True, text=True, env=env_for(stack))
    assert refused.returncode == 1 and len(json.loads(
        orderhist(stack, "rejects", "--json").stdout)) == 2
    gone = orderhist(stack, "rejects", "--all", "--clear", "--yes")
    assert "deleted 2 rejects" in gone.stdout
    assert json.loads(orderhist(stack, "rejects", "--json").stdout) == []
    assert orderhist(stack, "rejects", "--json", "--clear").returncode == 2


def test_verdict_names_the_stuck_or_dead_stage(stack):
    """Last in this module: it stops and kills the stack's own processes, then repairs."""
    import signal

    def verdict() -> dict:
        return json.loads(orderhist(stack, "watch", "--once", "--json").stdout)["verdict"]

    runtime = int((stack / "run" / "runtime.pid").read_text())
    os.kill(runtime, signal.SIGSTOP)
    try:
        assert orderhist(stack, "generate", "--count", "50").returncode == 0
        deadline, found = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            found = verdict()
            if found["stage"] == "runtime":
                break
            time.sleep(1)
        assert found["level"] == "fail" and found["stage"] == "runtime", found
        assert "runtime stuck" in found["text"]
        assert "runtime stuck" in orderhist(stack, "status").stdout
    finally:
        os.kill(runtime, signal.SIGCONT)
    agent = int((stack / "run" / "agent.pid").read_text())
    os.kill(agent, signal.SIGKILL)
    time.sleep(0.5)
    dead = verdict()
    assert dead == {"level": "fail", "stage": "agent",
                    "text": "agent is not running: run `orderhist up`"}
    assert orderhist(stack, "up").returncode == 0
    deadline = time.monotonic() + 30
    while verdict()["level"] != "ok" and time.monotonic() < deadline:
        time.sleep(1)
    assert verdict()["level"] == "ok"
