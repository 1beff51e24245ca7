"""The emulator answers as AWS does on the wire, in both modes (fast and stock moto with the
fixes): AWS's errors for requests AWS refuses (never a text/plain 500), DynamoDB's documented
limits and number forms, ConsumedCapacity only when asked for, Kinesis's record limit and
sequence numbers, and Kinesis's CBOR protocol."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from helpers.emulator import Twin, raw_client, start_emulator
from orderhist import emulator, processes
from orderhist.resources.data import table_shape

TABLE = "wire"


@pytest.fixture(scope="module")
def twins(twin_targets):
    fast, stock = twin_targets
    dynamodb, kinesis = Twin("dynamodb", fast, stock), Twin("kinesis", fast, stock)
    for client in (dynamodb.fast, dynamodb.stock):
        client.create_table(**table_shape(TABLE))
    for client in (kinesis.fast, kinesis.stock):
        client.create_stream(StreamName="wire", ShardCount=3)
    return dynamodb, kinesis


def _both(twin: Twin, operation: str, **params):
    """The same answer from both modes, which is returned."""
    got, want = twin.both(operation, **params)
    assert got == want, f"{operation}: fast {got} != stock {want}"
    for client in (twin.fast, twin.stock):
        status, body = client.last_raw
        # AWS's JSON forms, never a text body.
        json.loads(body)
    return got


KEY = {"CustomerID": {"S": "17850"}, "SK": {"S": "a"}}


def test_bad_requests_get_aws_errors_not_a_text_500(twins):
    dynamodb, kinesis = twins
    assert _both(dynamodb, "query", TableName=TABLE,
                 KeyConditionExpression="CustomerID = :c",
                 ExpressionAttributeValues={":c": {"S": "17850"}},
                 ExclusiveStartKey={"CustomerID": {"S": "17850"}}) == (
        "error", "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the "
        "schema")
    assert dynamodb.fast.last_raw[0] == 400
    assert _both(dynamodb, "put_item", TableName=TABLE, Item={**KEY, "X": {}})[:2] == (
        "error", "ValidationException")
    assert _both(dynamodb, "put_item", TableName=TABLE,
                 Item={**KEY, "X": {"S": "a", "N": "1"}})[:2] == ("error", "ValidationException")
    got = _both(kinesis, "get_records", ShardIterator="not-an-iterator")
    assert got[:2] == ("error", "InvalidArgumentException")
    assert kinesis.fast.last_raw[0] == 400


def test_a_crash_of_moto_is_the_services_json_500_with_its_traceback_logged(tmp_path):
    home, stock = start_emulator(tmp_path, fast=False)
    try:
        _crash(home, stock)
    finally:
        emulator.stop(home)


def _crash(home, stock) -> None:
    client = raw_client("dynamodb", stock)
    client.create_table(**table_shape("crash"))
    # stock moto cannot read a BETWEEN clause before the hash key's (a valid request)
    request = {"TableName": "crash", "KeyConditionExpression":
               "SK BETWEEN :a AND :b AND CustomerID = :c",
               "ExpressionAttributeValues": {":a": {"S": "a"}, ":b": {"S": "b"},
                                             ":c": {"S": "1"}}}
    from helpers.emulator import outcome

    assert outcome(client, "query", request) == ("error", "InternalServerError",
                                                 "Internal server error")
    status, body = client.last_raw
    assert status == 500
    assert json.loads(body)["__type"].endswith("#InternalServerError")
    log = processes.log_file(home, emulator.NAME).read_text()
    assert "Traceback (most recent call last)" in log


def test_batch_write_limits_as_documented(twins):
    dynamodb, _ = twins

    def put(sk):
        return {"PutRequest": {"Item": {"CustomerID": {"S": "b"}, "SK": {"S": sk}}}}

    too_many = [put(str(n)) for n in range(26)]
    assert _both(dynamodb, "batch_write_item", RequestItems={TABLE: too_many})[:2] == (
        "error", "ValidationException")
    assert _both(dynamodb, "batch_write_item", RequestItems={TABLE: too_many[:25]})[0] == "ok"
    duplicate = [put("x"), put("x")]
    put_and_delete = [put("y"), {"DeleteRequest": {"Key": {"CustomerID": {"S": "b"},
                                                           "SK": {"S": "y"}}}}]
    for requests in (duplicate, put_and_delete):
        assert _both(dynamodb, "batch_write_item", RequestItems={TABLE: requests}) == (
            "error", "ValidationException", "Provided list of item keys contains duplicates")


def test_item_size_limit_is_400_kb_as_aws_counts_it(twins):
    dynamodb, _ = twins
    # CustomerID(10) + "s"(1) + SK(2) + "k"(1) + D(1) + N(1) + 123456 as a number (3 bytes + 1)
    fixed = 10 + 1 + 2 + 1 + 1 + 1 + 4

    def item(size):
        return {"CustomerID": {"S": "s"}, "SK": {"S": "k"}, "N": {"N": "123456"},
                "D": {"S": "x" * (size - fixed)}}

    for operation, wrap in (("put_item", lambda i: {"TableName": TABLE, "Item": i}),
                            ("batch_write_item", lambda i: {"RequestItems": {
                                TABLE: [{"PutRequest": {"Item": i}}]}})):
        assert _both(dynamodb, operation, **wrap(item(409_400)))[0] == "ok"
        assert _both(dynamodb, operation, **wrap(item(409_600)))[0] == "ok"
        assert _both(dynamodb, operation, **wrap(item(409_601))) == (
            "error", "ValidationException", "Item size has exceeded the maximum allowed size")


def test_numbers_are_stored_normalised_with_and_without_projection(twins):
    dynamodb, _ = twins
    numbers = {"A": "0.10", "B": "1e2", "C": "-0", "D": "007.500", "E": "1E-7", "F": "-1.0E+3"}
    stored = {"A": "0.1", "B": "100", "C": "0", "D": "7.5", "E": "0.0000001", "F": "-1000"}
    key = {"CustomerID": {"S": "n"}, "SK": {"S": "1"}}
    _both(dynamodb, "put_item", TableName=TABLE,
          Item={**key, **{name: {"N": value} for name, value in numbers.items()}})
    whole = _both(dynamodb, "get_item", TableName=TABLE, Key=key)[1]["Item"]
    assert {name: whole[name]["N"] for name in numbers} == stored
    projected = _both(dynamodb, "get_item", TableName=TABLE, Key=key,
                      ProjectionExpression="A, B, C, D, E, F")[1]["Item"]
    assert {name: projected[name]["N"] for name in numbers} == stored
    queried = _both(dynamodb, "query", TableName=TABLE, KeyConditionExpression="CustomerID = :c",
                    ExpressionAttributeValues={":c": {"S": "n"}})[1]["Items"][0]
    assert {name: queried[name]["N"] for name in numbers} == stored
    _both(dynamodb, "update_item", TableName=TABLE, Key=key, UpdateExpression="ADD A :a",
          ExpressionAttributeValues={":a": {"N": "0.90"}})
    assert _both(dynamodb, "get_item", TableName=TABLE, Key=key,
                 ProjectionExpression="A")[1]["Item"] == {"A": {"N": "1"}}
    for refused in ("1" * 39, "1e126", "1e-131", "abc"):
        assert _both(dynamodb, "put_item", TableName=TABLE,
                     Item={**key, "X": {"N": refused}})[:2] == ("error", "ValidationException")


def test_consumed_capacity_only_when_asked_and_global_indexes_named_so(twins):
    dynamodb, _ = twins
    requests = [{"PutRequest": {"Item": {"CustomerID": {"S": "c"}, "SK": {"S": "1"},
                                         "InvoiceNo": {"S": "i1"}, "LineNo": {"N": "1"}}}}]
    plain = _both(dynamodb, "batch_write_item", RequestItems={TABLE: requests})[1]
    assert "ConsumedCapacity" not in plain
    total = _both(dynamodb, "batch_write_item", RequestItems={TABLE: requests},
                  ReturnConsumedCapacity="TOTAL")[1]
    assert total["ConsumedCapacity"] == [{"TableName": TABLE, "CapacityUnits": 1.0}]
    by_index = _both(dynamodb, "query", TableName=TABLE, IndexName="ByInvoice",
                     KeyConditionExpression="InvoiceNo = :i",
                     ExpressionAttributeValues={":i": {"S": "i1"}},
                     ReturnConsumedCapacity="INDEXES")[1]["ConsumedCapacity"]
    assert "GlobalSecondaryIndexes" in by_index and "LocalSecondaryIndexes" not in by_index
    assert set(by_index["GlobalSecondaryIndexes"]) == {"ByInvoice"}
    query = _both(dynamodb, "query", TableName=TABLE, KeyConditionExpression="CustomerID = :c",
                  ExpressionAttributeValues={":c": {"S": "c"}})[1]
    assert "ConsumedCapacity" not in query
    key = {"CustomerID": {"S": "c"}, "SK": {"S": "1"}}
    unasked = [("batch_get_item", {"RequestItems": {TABLE: {"Keys": [key]}}}),
               ("update_item", {"TableName": TABLE, "Key": key,
                                "UpdateExpression": "SET Country = :c",
                                "ExpressionAttributeValues": {":c": {"S": "GB"}}}),
               ("transact_write_items", {"TransactItems": [{"Put": {
                   "TableName": TABLE, "Item": {**key, "SK": {"S": "2"}}}}]}),
               ("delete_item", {"TableName": TABLE, "Key": {**key, "SK": {"S": "2"}}})]
    for operation, params in unasked:
        assert "ConsumedCapacity" not in _both(dynamodb, operation, **params)[1], operation
    asked = _both(dynamodb, "batch_get_item", RequestItems={TABLE: {"Keys": [key]}},
                  ReturnConsumedCapacity="TOTAL")[1]
    assert asked["ConsumedCapacity"][0]["TableName"] == TABLE


def test_put_record_refuses_over_1_mib_like_put_records(twins):
    _, kinesis = twins
    mib = 1024 * 1024
    assert _both(kinesis, "put_record", StreamName="wire", PartitionKey="k",
                 Data=b"x" * (mib - 1))[0] == "ok"
    assert _both(kinesis, "put_record", StreamName="wire", PartitionKey="k",
                 Data=b"x" * mib)[:2] == ("error", "ValidationException")
    assert _both(kinesis, "put_records", StreamName="wire",
                 Records=[{"PartitionKey": "k", "Data": b"x" * mib}])[:2] == (
        "error", "ValidationException")


def test_sequence_numbers_are_aws_shaped_growing_and_unique_across_shards(twins):
    _, kinesis = twins
    for client in (kinesis.fast, kinesis.stock):
        seen: dict[str, list[int]] = {}
        for n in range(60):
            reply = client.put_record(StreamName="wire", PartitionKey=f"key-{n}", Data=b"d")
            sequence = reply["SequenceNumber"]
            assert len(sequence) == 56 and sequence.isdigit()
            seen.setdefault(reply["ShardId"], []).append(int(sequence))
        reply = client.put_records(StreamName="wire", Records=[
            {"PartitionKey": f"key-{n}", "Data": b"e"} for n in range(60)])
        for record in reply["Records"]:
            assert len(record["SequenceNumber"]) == 56
            seen[record["ShardId"]].append(int(record["SequenceNumber"]))
        assert len(seen) == 3
        every = [number for numbers in seen.values() for number in numbers]
        assert len(set(every)) == len(every)
        for shard_id, numbers in seen.items():
            assert numbers == sorted(numbers)
            # Reading from one of them starts exactly there.
            iterator = client.get_shard_iterator(
                StreamName="wire", ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=str(numbers[1]))["ShardIterator"]
            records = client.get_records(ShardIterator=iterator, Limit=2)["Records"]
            assert [int(r["SequenceNumber"]) for r in records] == numbers[1:3]
        shards = client.list_shards(StreamName="wire")["Shards"]
        starts = [shard["SequenceNumberRange"]["StartingSequenceNumber"] for shard in shards]
        assert all(len(start) == 56 for start in starts) and len(set(starts)) == 3


def _cbor_call(target, operation: str, payload: dict):
    import cbor2

    request = urllib.request.Request(
        target.endpoint_url + "/", data=cbor2.dumps(payload), method="POST",
        headers={"Content-Type": "application/x-amz-cbor-1.1",
                 "X-Amz-Target": f"Kinesis_20131202.{operation}",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=orderhist-local/20260101/"
                                  "us-east-1/kinesis/aws4_request, SignedHeaders=host, "
                                  "Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], _loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], _loads(error.read())


def _loads(data: bytes):
    import cbor2

    # Keep epoch tags as they came (cbor2 reads tag 1 as seconds).
    return cbor2.loads(data, semantic_decoders={1: lambda value, _: cbor2.CBORTag(1, value)})


def test_kinesis_cbor_protocol_answered_in_cbor(twin_targets):
    for target in twin_targets:
        raw_client("kinesis", target).create_stream(StreamName="cbor", ShardCount=1)
        status, kind, put = _cbor_call(target, "PutRecord", {
            "StreamName": "cbor", "PartitionKey": "k", "Data": b"\x00binary\xff"})
        assert (status, kind) == (200, "application/x-amz-cbor-1.1")
        assert len(put["SequenceNumber"]) == 56
        _, _, iterator = _cbor_call(target, "GetShardIterator", {
            "StreamName": "cbor", "ShardId": put["ShardId"], "ShardIteratorType": "TRIM_HORIZON"})
        status, kind, got = _cbor_call(target, "GetRecords",
                                       {"ShardIterator": iterator["ShardIterator"]})
        assert status == 200 and kind == "application/x-amz-cbor-1.1"
        record, = got["Records"]
        assert record["Data"] == b"\x00binary\xff"  # a byte string, not base64
        assert record["SequenceNumber"] == put["SequenceNumber"]
        # epoch milliseconds under CBOR's epoch tag, as the AWS SDK for Java reads them
        stamp = record["ApproximateArrivalTimestamp"]
        assert stamp.tag == 1 and stamp.value > 1_600_000_000_000
        status, kind, error = _cbor_call(target, "GetRecords", {"ShardIterator": "nonsense"})
        assert (status, kind) == (400, "application/x-amz-cbor-1.1")
        assert error["__type"] == "InvalidArgumentException"
        status, _, error = _cbor_call(target, "DescribeStream", {"StreamName": "none"})
        assert status == 400 and error["__type"] == "ResourceNotFoundException"


def test_health_reports_the_mode_and_no_warning(twin_targets):
    fast, stock = twin_targets
    for target, mode in ((fast, True), (stock, False)):
        health = emulator.control(target.endpoint_url, "health")
        assert health == {"status": "ok", "fast": mode, "warning": None}
