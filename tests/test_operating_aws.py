"""`watch`, `logs` and `env` on the AWS target, against the real emulator standing in for AWS
through the stack's endpoint: CloudWatch metrics put as the services would put them, the
function's log group written as Lambda writes it."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial

import pytest

from helpers.cli import run_cli
from helpers.emulator import serve_emulator
from orderhist import aws
from orderhist.state import Home, StackState

cli = partial(run_cli, aws_env="dummies", timeout=120)  # home: a state.Home


@pytest.fixture
def aws_stack(tmp_path, local_target, unique_name):
    home = Home(tmp_path / "home")
    home.make_dirs()
    target = aws.Target(aws.AWS, "us-east-1", local_target.endpoint_url)
    queue = aws.client("sqs", local_target).create_queue(
        QueueName=f"{unique_name}-rejects")["QueueUrl"]
    state = StackState.new(home, target="aws", prefix=unique_name, region="us-east-1",
                           endpoint=local_target.endpoint_url, account="123456789012",
                           profile="ops")
    state.resources.update({"function": {"id": f"{unique_name}-ingest"},
                            "queue": {"id": queue}})
    state.save()
    return home, target, unique_name


def test_watch_once_reads_cloudwatch_and_names_the_failing_stage(aws_stack, local_target):
    home, _, prefix = aws_stack
    cloudwatch = aws.client("cloudwatch", local_target)
    now = datetime.now(UTC)

    def metric(namespace, name, dimension, value, resource, unit="Count"):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": name, "Dimensions": [{"Name": dimension, "Value": resource}],
            "Timestamp": now, "Value": value, "Unit": unit}])

    metric("AWS/Kinesis", "IncomingRecords", "StreamName", 1200, f"{prefix}-orders")
    metric("AWS/Kinesis", "GetRecords.Records", "StreamName", 1100, f"{prefix}-orders")
    metric("AWS/Lambda", "Invocations", "FunctionName", 12, f"{prefix}-ingest")
    metric("AWS/Lambda", "IteratorAge", "FunctionName", 350, f"{prefix}-ingest", "Milliseconds")
    metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", 1100, f"{prefix}-orders")
    healthy = cli(home, "watch", "--once", "--json")
    assert healthy.returncode == 0, healthy.stderr
    snapshot = json.loads(healthy.stdout)
    assert snapshot["counts"]["shipped"] == 1200 and snapshot["counts"]["streamed"] == 1100
    assert snapshot["counts"]["invocations"] == 12 and snapshot["stored"] == 1100
    assert snapshot["counts"]["rejects"] is None  # no table: nothing to count refused in
    assert snapshot["latency_ms"]["p50"] == 350
    assert snapshot["rates"]["shipped"] == pytest.approx(1200 / 300)
    assert snapshot["verdict"]["level"] == "ok", snapshot["verdict"]
    metric("AWS/Lambda", "Errors", "FunctionName", 2, f"{prefix}-ingest")
    failing = json.loads(cli(home, "watch", "--once", "--json").stdout)
    assert failing["verdict"]["stage"] == "function" and "2 errors" in failing["verdict"]["text"]
    screen = cli(home, "watch", "--once")
    assert "shipped by agent" in screen.stdout and "function failing" in screen.stdout


def test_logs_reads_and_follows_the_functions_log_group(aws_stack, local_target):
    home, _, prefix = aws_stack
    logs = aws.client("logs", local_target)
    group = f"/aws/lambda/{prefix}-ingest"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/30/[$LATEST]abc")

    def put(*messages):
        stamp = int(time.time() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/30/[$LATEST]abc",
                            logEvents=[{"timestamp": stamp + i, "message": m}
                                       for i, m in enumerate(messages)])

    put("START RequestId: r1 Version: $LATEST", "100 records: 100 lines put, 0 refused",
        "END RequestId: r1", "REPORT RequestId: r1\tDuration: 10.00 ms")
    shown = cli(home, "logs", "function")
    assert shown.returncode == 0, shown.stderr
    assert [line.split(" ", 1)[1] for line in shown.stdout.splitlines()] == [
        "START RequestId: r1 Version: $LATEST", "100 records: 100 lines put, 0 refused",
        "END RequestId: r1", "REPORT RequestId: r1\tDuration: 10.00 ms"]
    assert cli(home, "logs", "runtime").returncode == 2  # the mapping is Lambda's own there

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    follower = subprocess.Popen([sys.executable, "-m", "orderhist", "--home", str(home.root),
                                 "logs", "function", "--follow"], stdout=subprocess.PIPE,
                                env=env)
    try:
        seen = b""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # the old lines first
            if select.select([follower.stdout], [], [], 0.2)[0]:
                seen += os.read(follower.stdout.fileno(), 65536)
        assert seen.count(b"START RequestId: r1") == 1
        put("START RequestId: r2 Version: $LATEST")
        seen, deadline = b"", time.monotonic() + 5
        while b"r2" not in seen and time.monotonic() < deadline:
            if select.select([follower.stdout], [], [], 0.2)[0]:
                seen += os.read(follower.stdout.fileno(), 65536)
        assert b"START RequestId: r2" in seen and b"r1" not in seen  # only what is new
    finally:
        follower.terminate()
        follower.wait(10)


def test_env_on_aws_names_the_region_and_profile(aws_stack):
    home, _, _ = aws_stack
    lines = cli(home, "env").stdout.splitlines()
    assert "export AWS_REGION='us-east-1'" in lines and "export AWS_PROFILE='ops'" in lines
    assert not any("AWS_ACCESS_KEY_ID" in line for line in lines)


@pytest.mark.slow
def test_up_and_down_on_aws_say_what_they_wait_for(tmp_path, monkeypatch):
    """Against AWS's eventual consistency (the emulator's mode): the instance's start and
    stop and IAM's propagation are told through progress, with how long so far."""
    from orderhist import lifecycle, teardown

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    endpoint = _serve_eventual(tmp_path)
    home = Home(tmp_path / "home")
    told: list[tuple[str, str]] = []
    try:
        lifecycle.up(home, lifecycle.UpOptions(target="aws", endpoint_url=endpoint,
                                               region="us-east-1"),
                     progress=lambda name, what: told.append((name, what)))
        waits = [(name, what) for name, what in told if what.startswith("waiting")]
        assert any(name == "instance" and "is starting (pending)" in what
                   for name, what in waits), waits
        assert any(name in ("function", "mapping", "instance") and "propagation" in what
                   for name, what in waits), waits
        told.clear()
        teardown.down(home, lambda name, what: told.append((name, what)))
        assert any(name == "instance" and "is terminating" in what for name, what in told), told
    finally:
        teardown.down(home)


def _serve_eventual(tmp_path) -> str:
    process, endpoint = serve_emulator(tmp_path / "port.json", 3)
    _servers.append(process)
    return endpoint


_servers: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_servers():
    yield
    while _servers:
        process = _servers.pop()
        process.terminate()
        process.wait(10)


def test_env_for_a_local_stack_whose_emulator_is_down_warns(tmp_path):
    home = Home(tmp_path / "home")
    home.make_dirs()
    StackState.new(home, target="local", prefix="orderhist", region="eu-west-1",
                   endpoint="http://127.0.0.1:9").save()
    result = cli(home, "env", "--shell", "fish")
    assert result.returncode == 0
    assert "set -gx AWS_ENDPOINT_URL 'http://127.0.0.1:9'" in result.stdout
    assert "set -e AWS_SESSION_TOKEN" in result.stdout
    assert "emulator is not running" in result.stderr
