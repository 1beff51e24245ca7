"""The mapping's semantics, end to end on the real emulator: a probe function (a small zip
that logs every invocation to a file and fails on marker records) deployed like any other,
run by run_runtime from its downloaded zip in real container processes."""
from __future__ import annotations

import base64
import time
from pathlib import Path

from helpers.runtime import Probe
from helpers.waiting import wait_until
from orderhist import aws
from orderhist.rejects import list_rejects
from orderhist.runtime.checkpoint import checkpoint_dir


def test_bisect_isolates_the_failing_record_retries_it_twice_then_moves_on(probe):
    stack = probe.stack
    stack.map(BatchSize=20, BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    datas = [b"BOOM" if n == 13 else f"r{n}".encode() for n in range(1, 21)]
    sequences = stack.put(datas, partition_key="one")
    with probe.runtime():
        wait_until(lambda: probe.settled(20), 30, message="the batch to settle")
        after = stack.put([b"after1", b"after2"], partition_key="one")
        wait_until(lambda: probe.settled(22), 10, message="the shard to move on")

    calls = probe.invocations()
    assert [len(c["seqs"]) for c in calls] == [20, 10, 10, 5, 2, 3, 1, 1, 1, 2, 5, 2]
    alone = [c for c in calls if c["datas"] == ["BOOM"]]
    assert len(alone) == 3  # the first attempt and two retries
    succeeded = [s for c in calls if "BOOM" not in c["datas"] for s in c["seqs"]]
    assert sorted(succeeded, key=int) == [s for s in sequences + after if s != sequences[12]]

    (info,) = list_rejects(stack.target, stack.table, stack.queue_url).given_up
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 3
    assert info["requestContext"]["functionArn"] == stack.function_arn
    assert info["responseContext"]["functionError"] == "Unhandled"
    batch = info["KinesisBatchInfo"]
    assert (batch["startSequenceNumber"], batch["endSequenceNumber"], batch["batchSize"]) == (
        sequences[12], sequences[12], 1)
    assert batch["shardId"] == "shardId-000000000000" and batch["streamArn"] == stack.stream_arn
    stats = probe.stats()
    assert (stats["errors"], stats["records_discarded"], stats["invocations"]) == (7, 1, 12)
    assert "boom at" in stats["last_error"]


def test_reported_failures_resume_from_the_lowest_one(probe):
    stack = probe.stack
    stack.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    datas = [f"FAILONCE{n}" if n in (4, 7) else f"r{n}" for n in range(1, 11)]
    sequences = stack.put([d.encode() for d in datas], partition_key="one")
    with probe.runtime():
        wait_until(lambda: probe.settled(10), 20, message="the batch to settle")
    calls = probe.invocations()
    assert [c["seqs"] for c in calls] == [sequences, sequences[3:]]
    stats = probe.stats()
    assert (stats["errors"], stats["shards"][0]["partial_failures"]) == (0, 1)


def test_a_timeout_or_a_crash_kills_the_container_and_counts_as_an_error(local_target,
                                                                          unique_name, tmp_path):
    probe = Probe(local_target, unique_name, tmp_path, timeout=1)
    stack = probe.stack
    stack.map(BatchSize=1, MaximumRetryAttempts=0,
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    stack.put([b"a", b"SLEEP", b"b", b"EXIT", b"c"], partition_key="one")
    try:
        with probe.runtime():
            wait_until(lambda: probe.settled(5), 30, message="all five records")
    finally:
        stack.unmap()
    pids = {c["datas"][0]: c["pid"] for c in probe.invocations()}
    assert pids["a"] != pids["b"] != pids["c"]  # a fresh container after each failure
    stats = probe.stats()
    assert (stats["errors"], stats["records_discarded"], stats["records_done"]) == (2, 2, 3)
    infos = list_rejects(stack.target, stack.table, stack.queue_url).given_up
    assert sorted(m["KinesisBatchInfo"]["batchSize"] for m in infos) == [1, 1]


def test_events_have_aws_shape_and_the_function_its_environment(local_target, unique_name,
                                                                 tmp_path):
    probe = Probe(local_target, unique_name, tmp_path, timeout=7,
                  environment={"PROBE_FULL": "1", "PROBE_TAG": "v1"})
    stack = probe.stack
    stack.map(BatchSize=10)
    put_at = time.time()
    sequences = stack.put([b"one,1\n", b"two,2\n"], partition_key="customer-17850")
    try:
        with probe.runtime():
            wait_until(lambda: probe.settled(2), 20, message="two records")
            # A configuration change reaches new containers.
            stack.client("lambda").update_function_configuration(
                FunctionName=stack.function_arn, Environment={"Variables": {
                    "PROBE_LOG": str(probe.log), "PROBE_TAG": "v2"}})
            time.sleep(2.5)
            stack.put([b"three"], partition_key="customer-17850")
            wait_until(lambda: probe.settled(3), 20, message="the third record")
    finally:
        stack.unmap()
    first, last = probe.invocations()[0], probe.invocations()[-1]
    records = first["event"]["Records"]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == sequences
    for record, data in zip(records, [b"one,1\n", b"two,2\n"]):
        kinesis = record.pop("kinesis")
        assert record == {
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{kinesis['sequenceNumber']}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": stack.role_arn,
            "awsRegion": "us-east-1", "eventSourceARN": stack.stream_arn}
        assert base64.b64decode(kinesis.pop("data")) == data
        arrival = kinesis.pop("approximateArrivalTimestamp")
        assert isinstance(arrival, float) and abs(arrival - put_at) < 5
        assert kinesis == {"kinesisSchemaVersion": "1.0", "partitionKey": "customer-17850",
                           "sequenceNumber": kinesis["sequenceNumber"]}
    env = first["env"]
    assert env["AWS_ENDPOINT_URL"] == local_target.endpoint_url
    # The handler runs with its execution role's credentials, from AssumeRole as on AWS
    # (temporary keys and a session token), never with the root key the runtime was given.
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_ACCESS_KEY_ID"] != aws.LOCAL_ACCESS_KEY and env["AWS_SESSION_TOKEN"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == f"{unique_name}-ingest"
    assert env["PROBE_TAG"] == "v1" and 0 < first["remaining"] <= 7000
    # The handler ran from the zip downloaded into the runtime's directory.
    assert Path(first["file"]).is_relative_to(probe.work_dir / "code")
    assert last["tag"] == "v2" and last["pid"] != first["pid"]


def test_records_older_than_the_maximum_age_are_given_up_without_invocation(probe):
    stack = probe.stack
    stack.map(BatchSize=10, MaximumRecordAgeInSeconds=2,
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    old = stack.put([b"old1", b"old2", b"old3"], partition_key="one")
    time.sleep(2.5)
    with probe.runtime():
        wait_until(lambda: probe.settled(3), 15, message="the old records")
        fresh = stack.put([b"fresh"], partition_key="one")
        wait_until(lambda: probe.settled(4), 15, message="the fresh record")
    assert [c["seqs"] for c in probe.invocations()] == [fresh]
    (info,) = list_rejects(stack.target, stack.table, stack.queue_url).given_up
    assert info["requestContext"]["condition"] == "RecordAgeExceeded"
    assert info["requestContext"]["approximateInvokeCount"] == 0
    assert (info["KinesisBatchInfo"]["startSequenceNumber"],
            info["KinesisBatchInfo"]["endSequenceNumber"]) == (old[0], old[-1])


def test_latest_skips_the_past_and_the_window_gathers_a_batch(probe):
    stack = probe.stack
    stack.map(BatchSize=100, StartingPosition="LATEST", MaximumBatchingWindowInSeconds=2)
    stack.put([b"before"], partition_key="one")
    with probe.runtime():
        wait_until(lambda: list(checkpoint_dir(probe.work_dir).glob("*/*.json")), 10,
                   message="the shard's starting point")
        first_put = time.time()
        for n in range(5):
            stack.put([f"w{n}".encode()], partition_key="one")
            time.sleep(0.1)
        wait_until(lambda: probe.settled(5), 10, message="the window's batch")
    (call,) = probe.invocations()
    assert call["datas"] == [f"w{n}" for n in range(5)]
    # The window opens when the first record is read, a poll (~0.1 s) after its put.
    assert 1.9 <= call["at"] - first_put < 5.0


def test_mappings_are_picked_up_paused_and_resumed(probe):
    stack = probe.stack
    lambda_client = stack.client("lambda")
    with probe.runtime():
        time.sleep(0.5)
        stack.map(BatchSize=10)
        stack.put([b"first"], partition_key="one")
        wait_until(lambda: probe.settled(1), 10, message="a new mapping to be served")
        lambda_client.update_event_source_mapping(UUID=stack.mapping_uuid, Enabled=False)
        time.sleep(3)
        stack.put([b"while-disabled"], partition_key="one")
        time.sleep(1.5)
        assert len(probe.invocations()) == 1
        lambda_client.update_event_source_mapping(UUID=stack.mapping_uuid, Enabled=True)
        wait_until(lambda: len(probe.invocations()) == 2, 10, message="the mapping to resume")
    assert [c["datas"] for c in probe.invocations()] == [["first"], ["while-disabled"]]
