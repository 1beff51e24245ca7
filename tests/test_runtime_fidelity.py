"""Where the local mapping must deliver as AWS does, or refuse: FilterCriteria applied, an
encrypted stream's events marked, `functionError: null` on a batch given up after partial
failures, settings the runtime cannot honour refused out loud. Real emulator, real runtime,
the probe function in real container processes."""
from __future__ import annotations

import json
import time

from helpers.runtime import Probe
from helpers.waiting import wait_until
from orderhist.rejects import list_rejects


def test_filter_criteria_drop_what_does_not_match(probe):
    stack = probe.stack
    pattern = {"data": {"Country": ["United Kingdom"], "Quantity": [{"numeric": [">", 0]}]}}
    stack.map(BatchSize=50, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    datas = [json.dumps({"Country": "United Kingdom", "Quantity": 3, "n": 1}),
             json.dumps({"Country": "France", "Quantity": 3, "n": 2}),
             "not json, so a pattern on data cannot match it",
             json.dumps({"Country": "United Kingdom", "Quantity": -1, "n": 4}),
             json.dumps({"Country": ["EIRE", "United Kingdom"], "Quantity": 2, "n": 5})]
    stack.put([d.encode() for d in datas], partition_key="one")
    with probe.runtime():
        wait_until(lambda: probe.settled(5), 20, message="every record to be done or dropped")
        stats = probe.stats()
    delivered = [json.loads(d)["n"] for call in probe.invocations() for d in call["datas"]]
    assert delivered == [1, 5]
    assert (stats["records_done"], stats["records_filtered"]) == (2, 3)


def test_settings_the_runtime_cannot_honour_are_refused_not_ignored(probe):
    stack = probe.stack
    stack.map(BatchSize=10, ParallelizationFactor=2)
    stack.put([b"r1", b"r2"], partition_key="one")
    with probe.runtime():
        wait_until(lambda: "ParallelizationFactor 2" in (probe.stats()["last_error"] or ""), 15,
                   message="the runtime to say why it does not serve the mapping")
        time.sleep(1)
    assert probe.invocations() == []


def test_an_encrypted_streams_events_say_kms(local_target, unique_name, tmp_path):
    probe = Probe(local_target, unique_name, tmp_path, environment={"PROBE_FULL": "1"})
    stack = probe.stack
    stack.client("kinesis").start_stream_encryption(
        StreamName=stack.stream_name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    stack.map(BatchSize=10)
    try:
        stack.put([b"secret"], partition_key="one")
        with probe.runtime():
            wait_until(lambda: probe.settled(1), 20, message="the record")
    finally:
        stack.unmap()
    (record,) = probe.invocations()[0]["event"]["Records"]
    assert record["kinesis"]["encryptionType"] == "KMS"


def test_a_batch_given_up_after_partial_failures_says_function_error_null(probe):
    stack = probe.stack
    stack.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
              MaximumRetryAttempts=1,
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    stack.put([b"r1", b"FAILALWAYS", b"r3"], partition_key="one")
    with probe.runtime():
        wait_until(lambda: probe.settled(3), 20, message="the batch to settle")
    (info,) = list_rejects(stack.target, None, stack.queue_url).given_up
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert "functionError" in info["responseContext"]
    assert info["responseContext"]["functionError"] is None
