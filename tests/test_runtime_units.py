"""The runtime's pure parts: bisection and retry rules, the batch-response reading, event
and batch-info shapes, checkpoints, code verification, and the container protocol (real
child processes, no emulator)."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime

import pytest

from helpers.runtime import CONTAINER_PROBE as PROBE
from helpers.runtime import zip_of
from orderhist import aws
from orderhist.runtime import events
from orderhist.runtime.batching import Planner
from orderhist.runtime.checkpoint import Checkpoint
from orderhist.runtime.filters import FilterError, parse_filter_criteria
from orderhist.runtime.mappings import CodeError, parse_mapping, unpack
from orderhist.runtime.worker import FunctionSpec, Worker, container_environment

SHARD = "shardId-000000000003"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/s"


def kinesis_record(sequence: int, data: bytes = b"x", arrival: float = 1_700_000_000.25) -> dict:
    """A record as boto3's get_records returns it."""
    return {"SequenceNumber": str(sequence), "Data": data, "PartitionKey": f"pk{sequence}",
            "ApproximateArrivalTimestamp": datetime.fromtimestamp(arrival, UTC)}


def run_planner(total: int, batch_size: int, *, bisect: bool,
                max_retries: int, failing: set[int]):
    """Drive the planner over records 1..total where the records in `failing` make any batch
    holding them fail; return the batches invoked and the records given up on."""
    planner, pending, invoked, discarded = Planner(), list(range(1, total + 1)), [], []
    while pending:
        batch = pending[:planner.next_size(len(pending), batch_size)]
        invoked.append(batch)
        failed = failing & set(batch)
        outcome = events.ERROR if failed else events.OK
        decision = planner.decide(len(batch), outcome, None, bisect=bisect,
                                  max_retries=max_retries)
        del pending[:decision.succeeded]
        if decision.discarded:
            discarded.append((pending[:decision.discarded], decision.invoke_count))
            del pending[:decision.discarded]
        assert len(invoked) < 500, "the planner does not converge"
    return invoked, discarded


def test_bisection_narrows_a_failure_to_one_record_then_counts_retries():
    invoked, discarded = run_planner(20, 20, bisect=True, max_retries=2, failing={13})
    assert [len(b) for b in invoked] == [20, 10, 10, 5, 2, 3, 1, 1, 1, 2, 5]
    assert discarded == [([13], 3)]
    succeeded = [r for b in invoked if 13 not in b for r in b]
    assert sorted(succeeded) == [r for r in range(1, 21) if r != 13]


def test_without_bisection_the_whole_batch_is_retried_then_given_up():
    invoked, discarded = run_planner(25, 10, bisect=False, max_retries=1, failing={4})
    assert [b[0] for b in invoked] == [1, 1, 11, 21]
    assert discarded == [(list(range(1, 11)), 2)]


def test_zero_retries_with_bisection_still_splits():
    invoked, discarded = run_planner(8, 8, bisect=True, max_retries=0, failing={8})
    assert [len(b) for b in invoked] == [8, 4, 4, 2, 2, 1, 1]
    assert discarded == [([8], 1)]


def test_partial_failure_checkpoints_before_the_lowest_failure():
    planner = Planner()
    decision = planner.decide(10, events.PARTIAL, 3, bisect=False, max_retries=-1)
    assert (decision.succeeded, decision.discarded) == (3, 0)
    # Without bisection the retry is a fresh batch from the failed record.
    assert not planner.retrying and planner.next_size(50, 10) == 10
    decision = planner.decide(10, events.PARTIAL, 0, bisect=False, max_retries=-1)
    assert decision.succeeded == 0 and decision.delay > 0 and planner.next_size(50, 10) == 10


def test_partial_failure_with_bisection_retries_only_the_rest_of_the_batch():
    planner = Planner()
    planner.decide(10, events.PARTIAL, 6, bisect=True, max_retries=-1)
    assert planner.next_size(50, 10) == 4
    planner.decide(4, events.PARTIAL, 0, bisect=True, max_retries=-1)
    assert planner.forced == [2, 2]


def test_partial_failure_with_no_retries_gives_up_the_rest_at_once():
    decision = Planner().decide(10, events.PARTIAL, 4, bisect=False, max_retries=0)
    assert (decision.succeeded, decision.discarded, decision.invoke_count) == (4, 6, 1)


def test_batch_responses_follow_aws_rules():
    seqs = ["5", "6", "7"]
    read = events.read_batch_response
    for success in (None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok"):
        assert read(success, seqs) == (events.OK, None)
    assert read({"batchItemFailures": [{"itemIdentifier": "7"}, {"itemIdentifier": "6"}]},
                seqs) == (events.PARTIAL, 1)
    for failure in ([{"itemIdentifier": ""}], [{"itemIdentifier": None}], [{"id": "6"}],
                    [{"itemIdentifier": "99"}], "6"):
        assert read({"batchItemFailures": failure}, seqs)[0] == events.ERROR


def test_event_has_aws_shape():
    record = kinesis_record(49590338271490256608559692538361571095921575989136588898, b"a,b\n")
    event = events.kinesis_event([record], SHARD, STREAM, "us-east-1", "arn:aws:iam::1:role/r")
    (item,) = event["Records"]
    assert item == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(b"a,b\n").decode(),
                    "approximateArrivalTimestamp": 1_700_000_000.25},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{SHARD}:{record['SequenceNumber']}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::1:role/r", "awsRegion": "us-east-1",
        "eventSourceARN": STREAM,
    }
    json.dumps(event)


def test_the_payload_estimate_holds_for_long_keys_and_names():
    """Records with 256-character partition keys that JSON escapes six bytes a character, on a
    stream of a 128-character name: the batch the estimate lets through fits in 6 MB."""
    stream = "arn:aws:kinesis:ap-southeast-2:123456789012:stream/" + "s" * 128
    role = "arn:aws:iam::123456789012:role/" + "r" * 64
    shard = "shardId-000000000042"
    overhead = events.record_overhead(shard, stream, "ap-southeast-2", role)
    records = []
    for n in range(10_000):
        record = kinesis_record(49590338271490256608559692538361571095921575989136588898 + n,
                                b"x" * 400)
        record["PartitionKey"] = "\u00e9\u4e2d" * 128
        records.append(record)
    batch, size = [], events.ENVELOPE_OVERHEAD
    for record in records:  # the runtime's own rule (poller._take)
        size += events.record_size(record, overhead)
        if batch and size > events.PAYLOAD_LIMIT:
            break
        batch.append(record)
    event = events.kinesis_event(batch, shard, stream, "ap-southeast-2", role, encrypted=True)
    actual = len(json.dumps(event))
    assert actual <= events.PAYLOAD_LIMIT
    assert actual > events.PAYLOAD_LIMIT * 0.95  # and it is not wastefully low


def test_an_encrypted_stream_is_marked_and_a_plain_one_not():
    record = kinesis_record(7)
    plain = events.kinesis_event([record], SHARD, STREAM, "us-east-1", "arn:aws:iam::1:role/r")
    assert "encryptionType" not in plain["Records"][0]["kinesis"]
    sealed = events.kinesis_event([record], SHARD, STREAM, "us-east-1", "arn:aws:iam::1:role/r",
                                  encrypted=True)
    assert sealed["Records"][0]["kinesis"]["encryptionType"] == "KMS"


def test_filter_patterns_follow_lambdas_rules():
    def passes(pattern: dict, data) -> bool:
        criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return parse_filter_criteria(criteria).passes(raw)

    assert passes({"data": {"a": ["x"]}}, {"a": "x"})
    assert not passes({"data": {"a": ["x"]}}, {"a": "y"})
    assert not passes({"data": {"a": ["x"]}}, b"a,x")  # not JSON: no data to match
    assert passes({"data": {"a": [1]}}, {"a": 1.0}) and not passes({"data": {"a": ["1"]}}, {"a": 1})
    assert passes({"data": {"a": [{"prefix": "ab"}]}}, {"a": "abc"})
    assert passes({"data": {"a": [{"suffix": "bc"}]}}, {"a": "abc"})
    assert passes({"data": {"a": [{"equals-ignore-case": "ABC"}]}}, {"a": "abc"})
    assert passes({"data": {"a": [{"anything-but": ["x", "y"]}]}}, {"a": "z"})
    assert not passes({"data": {"a": [{"anything-but": "x"}]}}, {"a": "x"})
    assert passes({"data": {"a": [{"numeric": [">", 0, "<=", 5]}]}}, {"a": 5})
    assert not passes({"data": {"a": [{"numeric": [">", 0, "<=", 5]}]}}, {"a": 6})
    assert passes({"data": {"a": [{"exists": False}]}}, {"b": 1})
    assert not passes({"data": {"a": [{"exists": True}]}}, {"b": 1})
    assert passes({"data": {"a": {"b": [None]}}}, {"a": {"b": None}})
    assert passes({"data": {"a": ["x"]}}, {"a": ["y", "x"]})  # any element of a list
    assert passes({"data": {"a": ["x"], "b": ["y"]}}, {"a": "x", "b": "y"})
    assert not passes({"data": {"a": ["x"], "b": ["y"]}}, {"a": "x", "b": "z"})
    either = {"Filters": [{"Pattern": json.dumps({"data": {"a": ["x"]}})},
                          {"Pattern": json.dumps({"data": {"b": ["y"]}})}]}
    assert parse_filter_criteria(either).passes(b'{"b": "y"}')
    assert parse_filter_criteria(None).passes(b"anything at all")
    for bad in ({"partitionKey": ["1"]}, {"data": {"a": "x"}}, {"data": {"a": [{"regex": "."}]}}):
        with pytest.raises(FilterError):
            parse_filter_criteria({"Filters": [{"Pattern": json.dumps(bad)}]})


def test_mappings_the_runtime_cannot_run_say_why():
    base = {"UUID": "u", "FunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
            "EventSourceArn": STREAM}
    assert parse_mapping(base).unsupported is None
    parallel = parse_mapping({**base, "ParallelizationFactor": 4})
    assert "ParallelizationFactor" in parallel.unsupported
    assert "TumblingWindow" in parse_mapping({**base, "TumblingWindowInSeconds": 30}).unsupported
    bad = {"Filters": [{"Pattern": "{not json"}]}
    assert "FilterCriteria" in parse_mapping({**base, "FilterCriteria": bad}).unsupported


def test_batch_info_and_invocation_record():
    batch = [kinesis_record(7, arrival=1_700_000_000.123), kinesis_record(9, arrival=1_700_000_001)]
    info = events.batch_info(batch, SHARD, STREAM)
    assert info == {"shardId": SHARD, "startSequenceNumber": "7", "endSequenceNumber": "9",
                    "approximateArrivalOfFirstRecord": "2023-11-14T22:13:20.123Z",
                    "approximateArrivalOfLastRecord": "2023-11-14T22:13:21.000Z",
                    "batchSize": 2, "streamArn": STREAM}
    record = events.invocation_record(request_id="r", function_arn="f",
                                      condition="RecordAgeExceeded", invoke_count=0,
                                      status_code=200, function_error=None, info=info,
                                      now=1_700_000_002)
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp",
                           "KinesisBatchInfo"}
    assert record["requestContext"]["approximateInvokeCount"] == 0


def test_mapping_settings_are_read_with_aws_defaults():
    config = parse_mapping({"UUID": "u", "FunctionArn": "arn:aws:lambda:eu-west-1:1:function:f",
                            "EventSourceArn": "arn:aws:kinesis:eu-west-1:1:stream/orders",
                            "State": "Enabled"})
    assert (config.batch_size, config.max_retries, config.max_age_s, config.bisect,
            config.report_failures, config.on_failure) == (100, -1, -1, False, False, None)
    assert (config.stream_name, config.region) == ("orders", "eu-west-1")
    at = parse_mapping({"UUID": "u", "FunctionArn": "f", "EventSourceArn": config.stream_arn,
                        "StartingPosition": "AT_TIMESTAMP", "BatchSize": 7,
                        "StartingPositionTimestamp": datetime.fromtimestamp(1_700_000_000,
                                                                            UTC),
                        "MaximumRetryAttempts": 0, "BisectBatchOnFunctionError": True,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "DestinationConfig": {"OnFailure": {"Destination": "arn:q"}}})
    assert (at.starting_position, at.starting_timestamp, at.batch_size, at.max_retries,
            at.bisect, at.report_failures, at.on_failure) == (
        "AT_TIMESTAMP", 1_700_000_000.0, 7, 0, True, True, "arn:q")


def test_checkpoint_survives_a_new_reader(tmp_path):
    Checkpoint(tmp_path, "uuid-1", SHARD).advance("42")
    again = Checkpoint(tmp_path, "uuid-1", SHARD)
    assert again.sequence == "42" and not again.finished
    assert Checkpoint(tmp_path, "uuid-2", SHARD).sequence is None


def test_code_is_refused_unless_it_matches_code_sha256(tmp_path):
    code = zip_of({"app.py": "def handler(e, c):\n    return 1\n"})
    good = base64.b64encode(hashlib.sha256(code).digest()).decode()
    with pytest.raises(CodeError, match="SHA-256"):
        unpack(code + b"tampered", good, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    unpack(code, good, tmp_path / "ok")
    assert (tmp_path / "ok" / "app.py").is_file()


def probe_worker(tmp_path, files=None, timeout=1.0, handler="app.handler") -> Worker:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    for name, text in (files or {"app.py": PROBE}).items():
        (code_dir / name).write_text(text)
    spec = FunctionSpec(arn="arn:aws:lambda:us-east-1:1:function:p", name="p", handler=handler,
                        runtime="python3.12", role="r", timeout_s=timeout, memory_mb=128,
                        code_sha256="x", code_dir=str(code_dir), environment=(("TAG", "t1"),))
    return Worker(spec, container_environment(spec, aws.Target(aws.LOCAL, "us-east-1",
                                                                 "http://127.0.0.1:9")))


def test_container_is_warm_and_survives_handler_errors(tmp_path):
    worker = probe_worker(tmp_path)
    try:
        first = worker.invoke({}, "req-1")
        assert first.ok and first.payload["tag"] == "t1" and first.payload["request"] == "req-1"
        assert 0 < first.payload["remaining"] <= 1000
        failed = worker.invoke({"do": "raise"}, "req-2")
        assert (failed.ok, failed.error_type, failed.error_message) == (
            False, "ValueError", "bad record")
        marshal = worker.invoke({"do": "set"}, "req-3")
        assert marshal.error_type == "Runtime.MarshalError"
        assert worker.invoke({}, "req-4").payload["pid"] == first.payload["pid"]
    finally:
        worker.close()


def test_container_is_replaced_after_a_timeout_or_a_crash(tmp_path):
    worker = probe_worker(tmp_path, timeout=0.5)
    try:
        pid = worker.invoke({}, "a").payload["pid"]
        started = time.monotonic()
        timed_out = worker.invoke({"do": "sleep"}, "b")
        assert timed_out.error_type == "Sandbox.Timedout" and time.monotonic() - started < 2
        second = worker.invoke({}, "c").payload["pid"]
        assert second != pid
        crashed = worker.invoke({"do": "exit"}, "d")
        assert crashed.error_type == "Runtime.ExitError"
        assert worker.invoke({}, "e").payload["pid"] not in (pid, second)
    finally:
        worker.close()


def test_import_failure_is_the_invocations_error(tmp_path):
    worker = probe_worker(tmp_path, files={"app.py": "import no_such_module\n"})
    result = worker.invoke({}, "a")
    assert not result.ok and result.error_type == "Runtime.ImportModuleError"
    worker.close()
