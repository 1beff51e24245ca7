"""`rejects --replay` on the real local pipeline: batches the mapping gave up on (the table
was gone while they were delivered) are read back from the stream and stored exactly once,
their batch infos leave the queue, and a batch the stream no longer holds stays and is named."""
from __future__ import annotations

import json
import time

import pytest

from helpers.cli import orderhist, up_local
from helpers.runtime import given_up_records, stored_line_numbers
from helpers.waiting import wait_until
from orderhist import aws

LINES = 200


@pytest.mark.slow
def test_given_up_batches_are_replayed_exactly_once(tmp_path):
    home = tmp_path / "home"
    try:
        state, target = up_local(home)
        table = state["resources"]["table"]["id"]
        dynamodb = aws.client("dynamodb", target)
        # The mapping gives up at once, and the table is gone: every batch is given up.
        aws.client("lambda", target).update_event_source_mapping(
            UUID=state["resources"]["mapping"]["id"], MaximumRetryAttempts=0,
            BisectBatchOnFunctionError=False)
        time.sleep(3)  # the runtime reads the mapping's settings every couple of seconds
        dynamodb.delete_table(TableName=table)
        assert orderhist(home, "generate", "--count", str(LINES)).returncode == 0
        wait_until(lambda: given_up_records(home) == LINES, 60, interval=0.5,
                   message="every batch to be given up")

        assert orderhist(home, "up").returncode == 0  # the table again, empty
        assert stored_line_numbers(dynamodb, table) == []
        replayed = orderhist(home, "rejects", "--replay", "--json")
        assert replayed.returncode == 0, replayed.stderr
        summary = json.loads(replayed.stdout)
        assert summary["records"] == LINES and summary["not_replayed"] == []
        wait_until(lambda: len(stored_line_numbers(dynamodb, table)) >= LINES, 60,
                   interval=0.5, message="the replayed lines to be stored")
        time.sleep(1)
        assert stored_line_numbers(dynamodb, table) == list(range(1, LINES + 1))
        assert given_up_records(home) == 0
        again = json.loads(orderhist(home, "rejects", "--replay", "--json").stdout)
        assert (again["batches"], again["records"]) == (0, 0)

        # A batch info naming records the stream does not hold stays, named, and exits 1.
        sqs = aws.client("sqs", target)
        info = {"requestContext": {"requestId": "r", "condition": "RecordAgeExceeded",
                                   "functionArn": "f", "approximateInvokeCount": 0},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                    "functionError": None},
                "version": "1.0", "timestamp": "2026-11-30T00:00:00.000Z",
                "KinesisBatchInfo": {"shardId": "shardId-000000000000",
                                     "startSequenceNumber": "4" * 56,
                                     "endSequenceNumber": "4" * 56, "batchSize": 1,
                                     "streamArn": state["resources"]["stream"]["arn"]}}
        sqs.send_message(QueueUrl=state["resources"]["queue"]["id"], MessageBody=json.dumps(info))
        stuck = orderhist(home, "rejects", "--replay")
        assert stuck.returncode == 1
        assert "1 given-up batches could not be replayed" in stuck.stderr
        assert "4444" in stuck.stdout
        assert given_up_records(home) == 1
    finally:
        orderhist(home, "down")
