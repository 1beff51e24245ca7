"""The Lambda handler against the real emulator (DynamoDB and SQS over HTTP), fed by an event
factory that gives each record its own sequence number. Only the UnprocessedItems cases wrap
the DynamoDB client, since the emulator never returns UnprocessedItems."""
from __future__ import annotations

import base64
import json
import os
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers.lines import ORDER_LINES_ONLY
from helpers.lines import runtime_order_line as order_line
from helpers.runtime import make_table
from orderhist import aws, aws_errors, records
from orderhist.function import handler as handler_module
from orderhist.function.handler import handler
from orderhist.rejects import list_rejects

SHARD = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/t-orders"
# Real Kinesis sequence numbers are 56-digit decimals.
FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898


class EventFactory:
    def __init__(self):
        self.next_sequence = FIRST_SEQUENCE

    def record(self, data: bytes | str, *, raw_base64: str | None = None) -> dict:
        sequence = str(self.next_sequence)
        self.next_sequence += 1
        payload = data.encode() if isinstance(data, str) else data
        return {
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk",
                        "sequenceNumber": sequence,
                        "data": raw_base64 or base64.b64encode(payload).decode(),
                        "approximateArrivalTimestamp": time.time()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"{SHARD}:{sequence}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/t-ingest-role",
            "awsRegion": "us-east-1", "eventSourceARN": STREAM_ARN,
        }

    @staticmethod
    def event(*records: dict) -> dict:
        return {"Records": list(records)}


class Context:
    def __init__(self, seconds: float = 30.0):
        self.deadline = time.monotonic() + seconds
        self.aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


class FlakyDynamoDB:
    """The real client, except that items `unprocessed(item, call)` picks are handed back
    as UnprocessedItems instead of being written."""

    def __init__(self, real, unprocessed):
        self.real = real
        self.unprocessed = unprocessed
        self.calls = 0

    def batch_write_item(self, RequestItems):
        self.calls += 1
        (table, requests), = RequestItems.items()
        left = [r for r in requests if self.unprocessed(r["PutRequest"]["Item"], self.calls)]
        written = [r for r in requests if r not in left]
        if written:
            self.real.batch_write_item(RequestItems={table: written})
        return {"UnprocessedItems": {table: left} if left else {}}


@pytest.fixture
def lambda_env(local_target, unique_name, monkeypatch):
    """The environment the handler has in a Lambda container, pointed at the emulator."""
    table = make_table(aws.client("dynamodb", local_target), f"{unique_name}-orders")
    queue_url = aws.client("sqs", local_target).create_queue(QueueName=f"{unique_name}-rejects")[
        "QueueUrl"]
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws.local_child_environment(local_target.region).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_target.endpoint_url)
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setattr(handler_module, "_clients", {})
    return {"target": local_target, "table": table, "queue_url": queue_url}


def sequence(record: dict) -> str:
    return record["kinesis"]["sequenceNumber"]


def stored(env) -> dict[int, dict]:
    items = aws.client("dynamodb", env["target"]).scan(TableName=env["table"],
                                                       **ORDER_LINES_ONLY)["Items"]
    return {int(item["LineNo"]["N"]): item for item in items}


def csvtojson(line: str) -> str:
    """What the agent's CSVTOJSON makes of a log line."""
    parsed = records.parse_log_line(line)
    values = records.split_csv_line(line)
    assert parsed.line_no
    return json.dumps(dict(zip(records.LOG_COLUMNS, values))) + "\n"


def test_good_and_poison_mixed(lambda_env):
    factory = EventFactory()
    guest = order_line(3, customer="")
    huge = "x" * (records.MAX_TEXT_BYTES + 10)
    long_json = csvtojson(order_line(9)).replace("with comma", huge)
    long_line = order_line(10).replace("with comma", huge)
    batch = [
        factory.record(order_line(1)),
        factory.record(b"\xff\xfe not utf-8"),
        factory.record(csvtojson(order_line(2))),
        factory.record("", raw_base64="!!! not base64 !!!"),
        factory.record(guest),
        factory.record(order_line(4).replace(",2.55,", ",two pounds,")),
        factory.record(order_line(5, invoice="C500000")),
        factory.record(order_line(6).replace("2010-12-01T08:26:00", "yesterday")),
        factory.record("{}"),
        factory.record(long_json),
        factory.record(long_line),
        factory.record(order_line(7) + "\r\n"),
    ]
    assert len(long_line) > records.MAX_TEXT_BYTES
    assert handler(factory.event(*batch), Context()) == {"batchItemFailures": []}

    items = stored(lambda_env)
    assert sorted(items) == [1, 2, 3, 5, 7]
    assert items[3]["CustomerID"]["S"].startswith("GUEST#")
    assert items[5]["Cancelled"]["BOOL"] is True
    assert items[2]["Description"]["S"] == 'Item "2", with comma'

    listing = list_rejects(lambda_env["target"], lambda_env["table"], lambda_env["queue_url"])
    assert listing.complete and not listing.given_up
    rejects = listing.refused
    by_sequence = {r["sequenceNumber"]: r for r in rejects}
    poison = [batch[i]["kinesis"]["sequenceNumber"] for i in (1, 3, 5, 7, 8, 9, 10)]
    assert sorted(by_sequence) == sorted(poison)
    assert all(r["shardId"] == SHARD and r["eventSourceARN"] == STREAM_ARN for r in rejects)
    assert "UTF-8" in by_sequence[poison[0]]["reason"]
    assert "base64" in by_sequence[poison[1]]["reason"]
    assert "UnitPrice" in by_sequence[poison[2]]["reason"]
    assert "InvoiceDate" in by_sequence[poison[3]]["reason"]
    assert by_sequence[poison[0]]["dataEncoding"] == "base64"
    too_long = by_sequence[poison[5]]
    assert "Description" in too_long["reason"] and too_long["truncated"] is True


def test_a_line_twice_in_one_batch_is_written_once(lambda_env):
    factory = EventFactory()
    line = order_line(11)
    reply = handler(factory.event(factory.record(line), factory.record(order_line(12)),
                                  factory.record(csvtojson(line))), Context())
    assert reply == {"batchItemFailures": []}
    assert sorted(stored(lambda_env)) == [11, 12]


def test_unprocessed_items_are_retried_until_written(lambda_env, monkeypatch):
    real = boto3.client("dynamodb")
    # The first two calls of each chunk's attempts hand back every third line.
    flaky = FlakyDynamoDB(real, lambda item, call: call <= 2 and int(item["LineNo"]["N"]) % 3 == 0)
    monkeypatch.setitem(handler_module._clients, "dynamodb", flaky)
    factory = EventFactory()
    batch = [factory.record(order_line(n)) for n in range(100, 160)]
    assert handler(factory.event(*batch), Context()) == {"batchItemFailures": []}
    assert sorted(stored(lambda_env)) == list(range(100, 160))
    # 60 lines are 3 calls of 25 (two hand back every third line), then the 14 leftovers of
    # both go together in one retry call after one backoff, not one backoff per call.
    assert flaky.calls == 4


def test_a_persistent_write_failure_is_reported_by_its_lowest_sequence_number(lambda_env,
                                                                              monkeypatch):
    stubborn = {205, 203}
    flaky = FlakyDynamoDB(boto3.client("dynamodb"),
                          lambda item, call: int(item["LineNo"]["N"]) in stubborn)
    monkeypatch.setitem(handler_module._clients, "dynamodb", flaky)
    factory = EventFactory()
    batch = [factory.record(order_line(n)) for n in range(200, 210)]
    started = time.monotonic()
    # Little time left: the handler must give up in time and report, not time out.
    reply = handler(factory.event(*batch), Context(seconds=2.6))
    assert time.monotonic() - started < 2.6
    assert reply == {"batchItemFailures": [{"itemIdentifier": sequence(batch[3])}]}
    assert sorted(stored(lambda_env)) == sorted(set(range(200, 210)) - stubborn)


def test_the_lowest_delivery_of_a_duplicated_failing_line_is_reported(lambda_env, monkeypatch):
    flaky = FlakyDynamoDB(boto3.client("dynamodb"), lambda item, call: item["LineNo"]["N"] == "302")
    monkeypatch.setitem(handler_module._clients, "dynamodb", flaky)
    factory = EventFactory()
    batch = [factory.record(order_line(n)) for n in (301, 302, 303, 302)]
    reply = handler(factory.event(*batch), Context(seconds=2.3))
    assert reply["batchItemFailures"] == [{"itemIdentifier": sequence(batch[1])}]


def test_poison_that_cannot_be_kept_is_reported_not_lost(lambda_env, monkeypatch):
    # The table hands every refused record back unprocessed: it must be retried, not dropped.
    flaky = FlakyDynamoDB(boto3.client("dynamodb"),
                          lambda item, call: item["CustomerID"]["S"].startswith("REJECTS#"))
    monkeypatch.setitem(handler_module._clients, "dynamodb", flaky)
    factory = EventFactory()
    batch = [factory.record(order_line(401)), factory.record("garbage"), factory.record("junk")]
    reply = handler(factory.event(*batch), Context(seconds=2.3))
    assert reply == {"batchItemFailures": [{"itemIdentifier": sequence(batch[1])}]}
    assert sorted(stored(lambda_env)) == [401]
    assert list_rejects(lambda_env["target"], lambda_env["table"], None).refused == []


def test_a_record_refused_twice_is_kept_once_in_arrival_order(lambda_env):
    factory = EventFactory()
    batch = [factory.record(f"junk {n}") for n in range(5)]
    handler(factory.event(*batch), Context())
    handler(factory.event(batch[3], batch[1]), Context())  # re-delivered, refused again
    refused = list_rejects(lambda_env["target"], lambda_env["table"], None).refused
    assert [r["sequenceNumber"] for r in refused] == [sequence(r) for r in batch]
    assert [r["data"] for r in refused] == [f"junk {n}" for n in range(5)]


def test_a_missing_table_fails_the_whole_invocation(lambda_env, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", lambda_env["table"] + "-missing")
    factory = EventFactory()
    with pytest.raises(ClientError) as raised:
        handler(factory.event(factory.record(order_line(501))), Context())
    assert aws_errors.code(raised.value) == "ResourceNotFoundException"
