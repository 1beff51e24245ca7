"""Seeded fault injection: failed PutRecords entries are not stored and are counted exactly,
unprocessed BatchWriteItem requests are not written, GetRecords is throttled, a share of
calls fail with a 500, provisioning is never touched, and a seed replays the same faults."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers.cli import orderhist
from helpers.emulator import REGION, raw_client
from orderhist import aws, emulator
from orderhist.state import Home, read_json

THROTTLED = "ProvisionedThroughputExceededException"


def set_faults(target: aws.Target, rate: float, seed: int = 1) -> dict:
    return emulator.control(target.endpoint_url, "faults", {"rate": rate, "seed": seed})


def make_stream(target: aws.Target, name: str) -> None:
    client = aws.client("kinesis", target)
    client.create_stream(StreamName=name, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})


def read_all(target: aws.Target, stream: str) -> list[bytes]:
    client = aws.client("kinesis", target)
    iterator = client.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    while True:
        reply = client.get_records(ShardIterator=iterator, Limit=10000)
        out += [r["Data"] for r in reply["Records"]]
        iterator = reply["NextShardIterator"]
        if not reply["Records"]:
            return out


def put_pattern(target: aws.Target, stream: str, calls: int = 20) -> list:
    client = raw_client("kinesis", target)
    pattern = []
    for call in range(calls):
        records = [{"Data": f"{stream}-{call}-{n}".encode(), "PartitionKey": "k"}
                   for n in range(50)]
        try:
            reply = client.put_records(StreamName=stream, Records=records)
        except ClientError as error:
            pattern.append(error.response["Error"]["Code"])
            continue
        pattern.append(tuple(bool(r.get("ErrorCode")) for r in reply["Records"]))
    return pattern


def test_put_records_entries_fail_exactly_and_are_not_stored(fast_target):
    make_stream(fast_target, "faulty")
    set_faults(fast_target, 0.3, seed=7)
    client = raw_client("kinesis", fast_target)
    accepted, failed_total, server_errors = [], 0, 0
    for call in range(30):
        records = [{"Data": f"{call}-{n}".encode(), "PartitionKey": f"p{n}"} for n in range(100)]
        try:
            reply = client.put_records(StreamName="faulty", Records=records)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "InternalFailure"
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            server_errors += 1
            continue
        results = reply["Records"]
        failed = [r for r in results if "ErrorCode" in r]
        assert reply["FailedRecordCount"] == len(failed)
        for record, result in zip(records, results):
            if "ErrorCode" in result:
                assert result["ErrorCode"] == THROTTLED
                assert "Rate exceeded" in result["ErrorMessage"]
                assert "SequenceNumber" not in result
            else:
                accepted.append(record["Data"])
        failed_total += len(failed)
    report = emulator.control(fast_target.endpoint_url, "faults")
    assert report["injected"].get("PutRecords:500", 0) == server_errors
    assert report["injected"]["PutRecords:entries"] == failed_total
    assert 0.2 * 3000 < failed_total < 0.4 * 3000
    set_faults(fast_target, 0.0)
    assert sorted(read_all(fast_target, "faulty")) == sorted(accepted)


def test_batch_write_leaves_unprocessed_items_unwritten(fast_target):
    dynamodb = raw_client("dynamodb", fast_target)
    dynamodb.create_table(
        TableName="faulty", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"},
                   {"AttributeName": "s", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"},
                              {"AttributeName": "s", "AttributeType": "S"}])
    set_faults(fast_target, 0.3, seed=3)
    written, unprocessed_seen, server_errors = set(), 0, 0
    for call in range(40):
        items = [{"k": {"S": "c"}, "s": {"S": f"{call:03d}-{n:02d}"}} for n in range(25)]
        try:
            reply = dynamodb.batch_write_item(RequestItems={"faulty": [
                {"PutRequest": {"Item": item}} for item in items]})
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            server_errors += 1
            continue
        left = {r["PutRequest"]["Item"]["s"]["S"]
                for r in reply["UnprocessedItems"].get("faulty", [])}
        unprocessed_seen += len(left)
        written |= {item["s"]["S"] for item in items} - left
    report = emulator.control(fast_target.endpoint_url, "faults")
    assert report["injected"].get("BatchWriteItem:500", 0) == server_errors
    assert report["injected"]["BatchWriteItem:entries"] == unprocessed_seen > 100
    set_faults(fast_target, 0.0)
    stored = set()
    request = {"TableName": "faulty", "KeyConditionExpression": "k = :k",
               "ExpressionAttributeValues": {":k": {"S": "c"}}}
    while True:
        page = dynamodb.query(**request)
        stored |= {item["s"]["S"] for item in page["Items"]}
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert stored == written


def test_get_records_is_throttled_and_provisioning_never_fails(fast_target):
    set_faults(fast_target, 0.5, seed=5)
    make_stream(fast_target, "reads")  # provisioning at a 50% fault rate
    client = raw_client("kinesis", fast_target)
    client.describe_stream_summary(StreamName="reads")
    set_faults(fast_target, 0.0)
    client.put_records(StreamName="reads", Records=[{"Data": b"x", "PartitionKey": "k"}] * 10)
    iterator = client.get_shard_iterator(StreamName="reads", ShardId="shardId-000000000000",
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    set_faults(fast_target, 0.5, seed=5)
    codes, got = [], 0
    for _ in range(60):
        try:
            reply = client.get_records(ShardIterator=iterator, Limit=1)
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
            continue
        got += len(reply["Records"])
        iterator = reply["NextShardIterator"]
    assert codes.count(THROTTLED) > 15 and got == 10  # a throttled read moves nothing
    report = emulator.control(fast_target.endpoint_url, "faults")
    assert report["injected"]["GetRecords:throttled"] == codes.count(THROTTLED)
    assert report["injected"].get("GetRecords:500", 0) == codes.count("InternalFailure")
    set_faults(fast_target, 0.0)


def test_whole_calls_fail_with_500s(fast_target):
    make_stream(fast_target, "fivehundreds")
    set_faults(fast_target, 0.9, seed=1)
    codes = [p for p in put_pattern(fast_target, "fivehundreds", calls=40) if type(p) is str]
    set_faults(fast_target, 0.0)
    assert codes and set(codes) == {"InternalFailure"}


def test_a_seed_replays_the_same_faults(fast_target):
    patterns = []
    for run in range(2):
        make_stream(fast_target, f"replay{run}")
        set_faults(fast_target, 0.2, seed=42)
        patterns.append(put_pattern(fast_target, f"replay{run}"))
        set_faults(fast_target, 0.0)
    assert patterns[0] == patterns[1] and any(any(p) for p in patterns[0] if type(p) is tuple)
    make_stream(fast_target, "replay-other")
    set_faults(fast_target, 0.2, seed=43)
    assert put_pattern(fast_target, "replay-other") != patterns[0]
    set_faults(fast_target, 0.0)


def test_start_passes_the_rate_and_seed_to_the_emulator(tmp_path):
    home = Home(tmp_path)
    home.make_dirs()
    endpoint = emulator.start(home, aws.local_child_environment(REGION), faults=0.2,
                              fault_seed=5)
    try:
        report = emulator.set_faults(endpoint, 0.3)  # a running emulator changes in place
        assert (report["rate"], report["seed"]) == (0.3, 5)
    finally:
        emulator.stop(home)


@pytest.mark.slow
def test_up_with_faults_stores_every_line_exactly_once(tmp_path):
    """The real pipeline (agent, runtime, Lambda handler) against injected faults: every
    retry path is exercised, and each line lands once."""
    home = tmp_path / "home"
    assert orderhist(home, "up", "--faults", "0.1", "--fault-seed", "3").returncode == 0
    try:
        result = orderhist(home, "generate", "--count", "1000", "--wait", "--json",
                           "--timeout", "120")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["stored"], summary["rejected"]) == (1000, 0)
        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert status["table"]["items"] == 1000
        endpoint = json.loads((home / "state.json").read_text())["endpoint"]
        injected = emulator.control(endpoint, "faults")["injected"]
        assert injected["PutRecords:entries"] > 0 and injected["BatchWriteItem:entries"] > 0
    finally:
        orderhist(home, "down", "--yes")


def test_serve_takes_the_rate_and_seed(tmp_path):
    assert emulator.serve_args(Path("p"), 0.1, 9)[-4:] == ["--faults", "0.1", "--fault-seed", "9"]
    assert "--faults" not in emulator.serve_args(Path("p"))
    port_file = tmp_path / "port"
    code = ("import sys; from pathlib import Path; from orderhist.emulator import serve; "
            "serve(Path(sys.argv[1]), 0, 0.25, 9)")
    process = subprocess.Popen([sys.executable, "-c", code, str(port_file)],
                               env=aws.local_child_environment(REGION),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not read_json(port_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{read_json(port_file)['port']}"
        while not emulator.is_healthy(endpoint) and time.monotonic() < deadline:
            time.sleep(0.05)
        report = emulator.control(endpoint, "faults")
        assert (report["rate"], report["seed"]) == (0.25, 9)
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0  # SIGTERM: exits at once, status 0
    with pytest.raises(emulator.EmulatorError):
        emulator.check_fault_rate(1.5)
