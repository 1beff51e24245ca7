"""aws.py's clients parse DynamoDB items and epoch timestamps their own quicker way: the
answers must be exactly what stock botocore gives for the same response, over the real
emulator, for every attribute type (binary and nested ones take botocore's path)."""
from __future__ import annotations

import random
from decimal import Decimal

import botocore.session
import pytest

from orderhist import aws


def stock_client(service: str, target: aws.Target):
    session = botocore.session.Session()
    session.set_credentials(aws.LOCAL_ACCESS_KEY, aws.LOCAL_SECRET_KEY)
    return session.create_client(service, region_name=target.region,
                                 endpoint_url=target.endpoint_url)


def without_metadata(reply: dict) -> dict:
    return {key: value for key, value in reply.items() if key != "ResponseMetadata"}


def random_value(rng: random.Random, depth: int = 0, binary: bool = True) -> dict:
    kinds = ["S", "N", "SS", "NS", "BOOL", "NULL"] + (["B", "BS"] if binary else []) \
        + (["M", "L"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["", "plain", "£ caf\u00e9 \"quoted\"", "x" * 300])}
    if kind == "N":
        return {"N": str(Decimal(rng.randint(-10**6, 10**6)) / 100)}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))}
    if kind == "SS":
        return {"SS": sorted({f"s{rng.randint(0, 99)}" for _ in range(3)})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randint(0, 99)) for _ in range(3)})}
    if kind == "BS":
        return {"BS": [bytes([i, rng.randrange(256)]) for i in range(2)]}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "M":
        return {"M": {f"k{i}": random_value(rng, depth + 1, binary)
                      for i in range(rng.randint(0, 3))}}
    return {"L": [random_value(rng, depth + 1, binary) for _ in range(rng.randint(0, 3))]}


@pytest.fixture(scope="module")
def filled_table(local_target):
    table = "parsing-" + str(random.randrange(10**9))
    client = aws.client("dynamodb", local_target)
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    rng = random.Random(6)
    for n in range(120):
        item = {"pk": {"S": "p"}, "sk": {"S": f"{n:04d}"}}
        # Half the items plain (the quick path), half with a random mix of every type.
        for a in range(rng.randint(1, 8)):
            item[f"a{a}"] = ({"S": f"v{a}"} if n % 2 else random_value(rng))
        client.put_item(TableName=table, Item=item)
        # A partition with nesting but no binary value anywhere: the quick path's case.
        nested = {"pk": {"S": "nested"}, "sk": {"S": f"{n:04d}"},
                  "v": random_value(rng, binary=False), "w": {"M": {"x": {"L": [{"N": "1"}]}}}}
        client.put_item(TableName=table, Item=nested)
    yield table
    client.delete_table(TableName=table)


def test_items_parse_exactly_as_stock_botocore(local_target, filled_table):
    ours, stock = aws.client("dynamodb", local_target), stock_client("dynamodb", local_target)
    query = {"TableName": filled_table, "KeyConditionExpression": "pk = :p",
             "ExpressionAttributeValues": {":p": {"S": "p"}}, "ScanIndexForward": False,
             "Limit": 50}
    mine, theirs = ours.query(**query), stock.query(**query)
    assert without_metadata(mine) == without_metadata(theirs)
    assert mine["LastEvaluatedKey"] == theirs["LastEvaluatedKey"]
    nested = {**query, "ExpressionAttributeValues": {":p": {"S": "nested"}}, "Limit": 200}
    mine, theirs = ours.query(**nested), stock.query(**nested)
    assert mine["Count"] == 120 and without_metadata(mine) == without_metadata(theirs)
    assert without_metadata(ours.scan(TableName=filled_table)) == \
        without_metadata(stock.scan(TableName=filled_table))
    keys = [{"pk": {"S": "p"}, "sk": {"S": f"{n:04d}"}} for n in range(0, 120, 7)]
    request = {filled_table: {"Keys": keys}}
    mine = ours.batch_get_item(RequestItems=request)["Responses"][filled_table]
    theirs = stock.batch_get_item(RequestItems=request)["Responses"][filled_table]
    assert sorted(mine, key=lambda i: i["sk"]["S"]) == sorted(theirs, key=lambda i: i["sk"]["S"])
    binary = [item for item in mine if any("B" in value or "BS" in value or "M" in value
                                          for value in item.values())]
    assert binary, "the random items should include binary and nested values"
    for n in (0, 1, 2, 3):
        key = {"pk": {"S": "p"}, "sk": {"S": f"{n:04d}"}}
        assert ours.get_item(TableName=filled_table, Key=key)["Item"] == \
            stock.get_item(TableName=filled_table, Key=key)["Item"]


def test_binary_values_come_back_as_bytes(local_target, filled_table):
    client = aws.client("dynamodb", local_target)
    key = {"pk": {"S": "bin"}, "sk": {"S": "1"}}
    client.put_item(TableName=filled_table, Item={
        **key, "b": {"B": b"\x00\xff"}, "nested": {"M": {"inner": {"B": b"zz"}}}})
    item = client.get_item(TableName=filled_table, Key=key)["Item"]
    assert item["b"] == {"B": b"\x00\xff"}
    assert item["nested"] == {"M": {"inner": {"B": b"zz"}}}


def test_kinesis_arrival_times_are_the_same_instants(local_target, unique_name):
    ours, stock = aws.client("kinesis", local_target), stock_client("kinesis", local_target)
    ours.create_stream(StreamName=unique_name, ShardCount=1)
    try:
        ours.put_records(StreamName=unique_name, Records=[
            {"Data": f"r{n}".encode(), "PartitionKey": "k"} for n in range(5)])
        shard = ours.list_shards(StreamName=unique_name)["Shards"][0]["ShardId"]

        def records_of(client):
            iterator = client.get_shard_iterator(
                StreamName=unique_name, ShardId=shard,
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            return client.get_records(ShardIterator=iterator)["Records"]

        mine, theirs = records_of(ours), records_of(stock)
        assert [r["Data"] for r in mine] == [r["Data"] for r in theirs] == \
            [f"r{n}".encode() for n in range(5)]
        for a, b in zip(mine, theirs):
            assert a["ApproximateArrivalTimestamp"] == b["ApproximateArrivalTimestamp"]
            assert a["ApproximateArrivalTimestamp"].utcoffset().total_seconds() == 0
        described = ours.describe_stream_summary(StreamName=unique_name)
        assert described["StreamDescriptionSummary"]["StreamCreationTimestamp"] == \
            stock.describe_stream_summary(
                StreamName=unique_name)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    finally:
        ours.delete_stream(StreamName=unique_name)


def test_the_quick_loader_knows_exactly_the_services_botocore_knows():
    from botocore.exceptions import UnknownServiceError

    target = aws.Target(aws.LOCAL, "us-east-1", "http://127.0.0.1:9")
    ours = aws.session(target).get_component("data_loader")
    stock = botocore.session.Session().get_component("data_loader")
    for type_name in ("service-2", "endpoint-rule-set-1"):
        known = stock.list_available_services(type_name)
        names = ours.list_available_services(type_name)
        assert list(names) == known
        assert all(name in names for name in known)
    for name in ("nosuch", "", "../dynamodb", "dynamodb/2012-08-10", ".", None):
        assert name not in ours.list_available_services("service-2")
    with pytest.raises(UnknownServiceError):
        aws.client("nosuch", target)
    for service in ("dynamodb", "kinesis", "sqs", "lambda", "iam", "ec2", "s3", "ssm"):
        assert aws.client(service, target).meta.service_model.service_name == service
