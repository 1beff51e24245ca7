"""A second SDK: the AWS SDK for JavaScript v3 (npm) and boto3 issue the same requests to two
fresh emulators set up alike, and get the same answers, errors included (AWS's codes, messages
and statuses), so the emulator is AWS on the wire for more than the client it was built with.

The SDK is installed from tests/node/package.json by .ci/run (npm ci), or here on first use;
without Node.js the test is skipped, saying so."""
from __future__ import annotations

import base64
import copy
import datetime
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers.emulator import start_emulator
from orderhist import aws, emulator
from orderhist.resources.data import table_shape

NODE_DIR = Path(__file__).parent / "node"
TABLE, STREAM = "node", "node"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def node_sdk():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the second-SDK test needs them")
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-dynamodb").exists():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_DIR / "probe.mjs"


@pytest.fixture(scope="module")
def two_emulators(tmp_path_factory):
    started = [start_emulator(tmp_path_factory.mktemp(name)) for name in ("boto3", "node")]
    try:
        for _, target in started:
            aws.client("dynamodb", target).create_table(**table_shape(TABLE))
            kinesis = aws.client("kinesis", target)
            kinesis.create_stream(StreamName=STREAM, ShardCount=2)
            kinesis.get_waiter("stream_exists").wait(StreamName=STREAM,
                                                     WaiterConfig={"Delay": 0.1})
        yield [target for _, target in started]
    finally:
        for home, _ in started:
            emulator.stop(home)


def _b(data: bytes) -> dict:
    return {"$bytes": base64.b64encode(data).decode()}


KEY = {"CustomerID": {"S": "17850"}, "SK": {"S": "2010-12-01#536365#0000001"}}
ITEM = {**KEY, "Quantity": {"N": "6.0"}, "UnitPrice": {"N": "0.10"}, "Big": {"N": "1e2"},
        "InvoiceNo": {"S": "536365"}, "LineNo": {"N": "1"}, "Blob": {"B": _b(b"\x00\xff")},
        "Description": {"S": "crème brûlée 🎁"}, "Cancelled": {"BOOL": False}}


def _put(sk: str) -> dict:
    return {"PutRequest": {"Item": {"CustomerID": {"S": "b"}, "SK": {"S": sk}}}}


CALLS = [
    ("dynamodb", "PutItem", {"TableName": TABLE, "Item": ITEM}),
    ("dynamodb", "GetItem", {"TableName": TABLE, "Key": KEY}),
    ("dynamodb", "GetItem", {"TableName": TABLE, "Key": KEY,
                             "ProjectionExpression": "Quantity, UnitPrice, Big"}),
    ("dynamodb", "Query", {"TableName": TABLE, "KeyConditionExpression": "CustomerID = :c",
                           "ExpressionAttributeValues": {":c": {"S": "17850"}},
                           "ScanIndexForward": False, "Limit": 10}),
    ("dynamodb", "Query", {"TableName": TABLE, "IndexName": "ByInvoice",
                           "KeyConditionExpression": "InvoiceNo = :i",
                           "ExpressionAttributeValues": {":i": {"S": "536365"}},
                           "ReturnConsumedCapacity": "INDEXES"}),
    ("dynamodb", "Query", {"TableName": TABLE, "KeyConditionExpression": "CustomerID = :c",
                           "ExpressionAttributeValues": {":c": {"S": "17850"}},
                           "ExclusiveStartKey": {"CustomerID": {"S": "17850"}}}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {TABLE: [_put(str(n)) for n in range(26)]}}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {TABLE: [
        _put("x"), {"DeleteRequest": {"Key": {"CustomerID": {"S": "b"}, "SK": {"S": "x"}}}}]}}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {TABLE: [_put("y")]},
                                    "ReturnConsumedCapacity": "TOTAL"}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {TABLE: [_put("z")]}}),
    ("dynamodb", "PutItem", {"TableName": TABLE, "Item": {
        **KEY, "D": {"S": "x" * (409_600 - 36)}}}),
    ("dynamodb", "PutItem", {"TableName": TABLE, "Item": {**KEY, "N": {"N": "1" * 39}}}),
    ("dynamodb", "DescribeTable", {"TableName": "no-such-table"}),
    ("kinesis", "PutRecord", {"StreamName": STREAM, "PartitionKey": "a", "Data": _b(b"one")}),
    ("kinesis", "PutRecords", {"StreamName": STREAM, "Records": [
        {"PartitionKey": f"k{n}", "Data": _b(b"rec%d" % n)} for n in range(6)]}),
    ("kinesis", "PutRecord", {"StreamName": STREAM, "PartitionKey": "a",
                              "Data": _b(b"x" * MIB)}),
    ("kinesis", "GetShardIterator", {"StreamName": STREAM, "ShardId": "shardId-000000000000",
                                     "ShardIteratorType": "TRIM_HORIZON"}),
    ("kinesis", "GetRecords", {"ShardIterator": "not-an-iterator"}),
    ("kinesis", "DescribeStreamSummary", {"StreamName": "no-such-stream"}),
    ("sqs", "CreateQueue", {"QueueName": "node-q"}),
    ("sqs", "SendMessage", {"QueueUrl": "QUEUE", "MessageBody": "batch 1..2"}),
    ("sqs", "GetQueueUrl", {"QueueName": "no-such-queue"}),
    ("sqs", "GetQueueAttributes", {"QueueUrl": "QUEUE", "AttributeNames": [
        "ApproximateNumberOfMessages", "VisibilityTimeout"]}),
]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _to_boto(value):
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {key: _to_boto(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_to_boto(member) for member in value]
    return value


def _from_boto(value):
    if isinstance(value, bytes):
        return _b(value)
    if isinstance(value, datetime.datetime):
        return {"$time": round(value.timestamp() * 1000)}
    if isinstance(value, dict):
        return {key: _from_boto(member) for key, member in value.items()
                if key != "ResponseMetadata"}
    if isinstance(value, (list, set)):
        return [_from_boto(member) for member in value]
    return value


def _boto3_answers(target, calls) -> list:
    clients = {service: aws.client(service, target, parameter_validation=False,
                                   retries={"total_max_attempts": 1, "mode": "standard"})
               for service in ("dynamodb", "kinesis", "sqs")}
    answers = []
    for service, operation, params in calls:
        try:
            reply = getattr(clients[service], _snake(operation))(**_to_boto(copy.deepcopy(params)))
            answers.append({"ok": _from_boto(reply)})
        except ClientError as error:
            answers.append({"error": {"code": error.response["Error"]["Code"],
                                      "message": error.response["Error"].get("Message"),
                                      "status": error.response["ResponseMetadata"][
                                          "HTTPStatusCode"]}})
    return answers


def _node_answers(probe: Path, target, calls) -> list:
    request = {"endpoint": target.endpoint_url, "region": target.region,
               "calls": [{"service": s, "operation": o, "params": p} for s, o, p in calls]}
    done = subprocess.run(["node", str(probe)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=120, cwd=probe.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# SQS answers in JSON with the query protocol's code in x-amzn-query-error as well: boto3
# reports that code, the JavaScript SDK the modeled error's name. One answer, two readings.
SQS_QUERY_CODES = {"AWS.SimpleQueueService.NonExistentQueue": "QueueDoesNotExist"}


def _comparable(answer):
    """Arrival times and message ids differ between two runs by nature; nothing else may."""
    if isinstance(answer, dict):
        if set(answer) == {"$time"}:
            return "a time"
        return {key: "an id" if key == "MessageId" else
                SQS_QUERY_CODES.get(value, value) if key == "code" else _comparable(value)
                for key, value in answer.items()}
    if isinstance(answer, list):
        return [_comparable(value) for value in answer]
    return answer


def _calls_with_queue(calls, queue_url: str):
    return [(s, o, {**p, "QueueUrl": queue_url} if p.get("QueueUrl") == "QUEUE" else p)
            for s, o, p in calls]


def test_the_javascript_sdk_gets_the_same_answers_as_boto3(node_sdk, two_emulators):
    boto3_target, node_target = two_emulators
    queue = "/123456789012/node-q"
    got_boto3 = _boto3_answers(boto3_target, _calls_with_queue(
        CALLS, boto3_target.endpoint_url + queue))
    got_node = _node_answers(node_sdk, node_target, _calls_with_queue(
        CALLS, node_target.endpoint_url + queue))
    # the reads that follow use the iterator each SDK was given (the same text: same setup)
    iterator_at = next(n for n, call in enumerate(CALLS) if call[1] == "GetShardIterator")
    iterators = [answers[iterator_at]["ok"]["ShardIterator"] for answers in (got_boto3,
                                                                            got_node)]
    assert iterators[0] == iterators[1]
    read = [("kinesis", "GetRecords", {"ShardIterator": iterators[0], "Limit": 3})]
    got_boto3 += _boto3_answers(boto3_target, read)
    got_node += _node_answers(node_sdk, node_target, read)
    for call, mine, theirs in zip(CALLS + read, got_boto3, got_node):
        if call[0] == "sqs" and "ok" in mine:
            mine["ok"].pop("QueueUrl", None), theirs["ok"].pop("QueueUrl", None)
        assert _comparable(theirs) == _comparable(mine), f"{call[0]} {call[1]}"
    # and the answers are AWS's, not merely alike
    errors = {n: answer["error"]["code"] for n, answer in enumerate(got_node) if "error" in answer}
    assert sorted(set(errors.values())) == [
        "InvalidArgumentException", "QueueDoesNotExist", "ResourceNotFoundException",
        "ValidationException"]
    records = got_node[-1]["ok"]["Records"]
    assert all(len(record["SequenceNumber"]) == 56 for record in records)
    assert base64.b64decode(records[0]["Data"]["$bytes"]) == b"one"
    item = got_node[1]["ok"]["Item"]
    assert (item["Quantity"], item["UnitPrice"], item["Big"]) == (
        {"N": "6"}, {"N": "0.1"}, {"N": "100"})
