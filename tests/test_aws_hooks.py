"""aws.py's hooks into botocore's private methods (the item parser, the quick loader, the
isolated session variables) are used only on the botocore they were tested on and while
those methods look as they did; otherwise botocore's stock parser and loader serve, with the
same results."""
from __future__ import annotations

import base64

import pytest
from botocore import parsers

from orderhist import aws
from orderhist.resources.data import table_shape

ITEM = {"CustomerID": {"S": "17850"}, "SK": {"S": "2010-12-01#536365#0000001"},
        "Quantity": {"N": "6"}, "UnitPrice": {"N": "2.55"}, "Cancelled": {"BOOL": False},
        "Note": {"NULL": True}, "Tags": {"SS": ["a", "b"]}, "Sizes": {"NS": ["1", "2.5"]},
        "Blob": {"B": b"\x00\xffbinary"}, "Blobs": {"BS": [b"x", b"y"]},
        "Nested": {"M": {"k": {"L": [{"S": "v"}, {"N": "1"}, {"B": b"z"}]}}}}
PLAIN_ITEM = {key: value for key, value in ITEM.items() if key not in ("Blob", "Blobs", "Nested")}


def _fresh(monkeypatch) -> None:
    """Forget the sessions made and the verdict on botocore: the next session decides."""
    monkeypatch.setattr(aws, "_sessions", {})
    monkeypatch.setattr(aws, "_hooks", {})


def _reads(target, table: str) -> list:
    """What the tool's reads give: items with and without binary values, a Kinesis record."""
    dynamodb = aws.client("dynamodb", target)
    results = []
    for sk in ("plain", "binary"):
        results.append(dynamodb.get_item(TableName=table, Key={
            "CustomerID": {"S": "17850"}, "SK": {"S": sk}})["Item"])
    results.append(dynamodb.query(TableName=table, KeyConditionExpression="CustomerID = :c",
                                  ExpressionAttributeValues={":c": {"S": "17850"}})["Items"])
    kinesis = aws.client("kinesis", target)
    shard = kinesis.list_shards(StreamName=table)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=table, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    results.append([(r["Data"], r["ApproximateArrivalTimestamp"], r["SequenceNumber"])
                    for r in records])
    return results


@pytest.fixture
def filled(local_target, unique_name):
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    dynamodb.put_item(TableName=unique_name, Item={**PLAIN_ITEM, "SK": {"S": "plain"}})
    dynamodb.put_item(TableName=unique_name, Item={**ITEM, "SK": {"S": "binary"}})
    kinesis = aws.client("kinesis", local_target)
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name,
                                             WaiterConfig={"Delay": 0.1})
    kinesis.put_record(StreamName=unique_name, PartitionKey="k", Data=b"line,1")
    return local_target, unique_name


def test_the_tested_botocore_gets_the_hooks(monkeypatch):
    _fresh(monkeypatch)
    assert aws.hooks_problem() is None
    made = aws.session(aws.Target(aws.LOCAL, "us-east-1", "http://127.0.0.1:9"))
    assert type(made.get_component("response_parser_factory")) is not \
        parsers.ResponseParserFactory


def test_a_changed_private_method_falls_back_to_stock_botocore_with_the_same_results(
        monkeypatch, filled):
    target, table = filled
    _fresh(monkeypatch)
    hooked = _reads(target, table)
    stock_handle_map = parsers.JSONParser._handle_map

    def handle_map(self, shape, value, *more):  # a botocore whose method grew an argument
        return stock_handle_map(self, shape, value)

    monkeypatch.setattr(parsers.JSONParser, "_handle_map", handle_map)
    _fresh(monkeypatch)
    assert "_handle_map" in aws.hooks_problem()
    made = aws.session(target)
    from botocore import loaders

    assert type(made.get_component("response_parser_factory")) is \
        parsers.ResponseParserFactory
    assert type(made.get_component("data_loader")) is loaders.Loader
    stock = _reads(target, table)
    assert stock == hooked
    assert hooked[1]["Blob"] == {"B": b"\x00\xffbinary"}
    assert base64.b64encode(hooked[-1][0][0]) == base64.b64encode(b"line,1")


def test_another_botocore_version_falls_back(monkeypatch, filled):
    import botocore

    target, table = filled
    _fresh(monkeypatch)
    hooked = _reads(target, table)
    monkeypatch.setattr(botocore, "__version__", "1.99.0")
    _fresh(monkeypatch)
    assert "1.99.0" in aws.hooks_problem()
    assert _reads(target, table) == hooked
