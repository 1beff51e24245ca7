"""`orderhist emulator serve --consistency-delay`: AWS's eventual consistency, with AWS's codes
and messages, met through real boto3 clients over HTTP."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from helpers.emulator import serve_emulator
from orderhist import aws, aws_errors
from orderhist.resources.data import table_shape

DELAY = 1.0
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
    "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def eventual(tmp_path_factory):
    """An emulator in the foreground, as a script would run it."""
    process, endpoint = serve_emulator(tmp_path_factory.mktemp("eventual") / "port.json", DELAY,
                                       output=True)
    yield aws.Target("local", "us-east-1", endpoint)
    process.terminate()
    process.wait(10)


def met(target: aws.Target) -> dict:
    with urllib.request.urlopen(f"{target.endpoint_url}/_orderhist/consistency") as reply:
        return json.loads(reply.read())["met"]


def refused(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value


def test_new_roles_and_profiles_are_not_usable_at_once(eventual, unique_name):
    iam, lam, ec2 = (aws.client(s, eventual, patient=True) for s in ("iam", "lambda", "ec2"))
    role = iam.create_role(RoleName=unique_name, AssumeRolePolicyDocument=TRUST)["Role"]
    function = {"FunctionName": unique_name, "Runtime": "python3.12", "Role": role["Arn"],
                "Handler": "h.h", "Code": {"ZipFile": b"PK\x05\x06" + b"\0" * 18}}
    error = refused(lam.create_function, **function)
    assert aws_errors.code(error) == "InvalidParameterValueException"
    assert "cannot be assumed by Lambda" in aws_errors.message(error)
    assert aws_errors.is_propagating(error)
    time.sleep(DELAY)
    lam.create_function(**function)

    kinesis = aws.client("kinesis", eventual, patient=True)
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName=unique_name)["StreamDescriptionSummary"]
    assert stream["StreamStatus"] == "CREATING"
    iam.put_role_policy(RoleName=unique_name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:GetRecords",
                                                "Resource": stream["StreamARN"]}]}))
    error = refused(lam.create_event_source_mapping, FunctionName=unique_name,
                    EventSourceArn=stream["StreamARN"], StartingPosition="TRIM_HORIZON")
    assert "Cannot access stream" in aws_errors.message(error)
    assert aws_errors.is_propagating(error)
    time.sleep(DELAY)
    assert kinesis.describe_stream_summary(StreamName=unique_name)[
        "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    mapping = lam.create_event_source_mapping(FunctionName=unique_name,
                                              EventSourceArn=stream["StreamARN"],
                                              StartingPosition="TRIM_HORIZON")
    assert mapping["State"] == "Creating"
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Creating"
    time.sleep(DELAY)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] != "Creating"

    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    profile = iam.create_instance_profile(InstanceProfileName=unique_name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=unique_name, RoleName=unique_name)
    launch = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t4g.small",
              "IamInstanceProfile": {"Arn": profile["Arn"]}}
    error = refused(ec2.run_instances, **launch)
    assert aws_errors.code(error) == "InvalidParameterValue"
    assert "Invalid IAM Instance Profile" in aws_errors.message(error)
    assert aws_errors.is_propagating(error)
    time.sleep(DELAY)
    instance = ec2.run_instances(**launch)["Instances"][0]["InstanceId"]

    def state() -> str:
        (reservation,) = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        return reservation["Instances"][0]["State"]["Name"]
    assert state() == "pending"
    time.sleep(DELAY)
    assert state() == "running"
    ec2.terminate_instances(InstanceIds=[instance])
    assert state() == "shutting-down"
    time.sleep(DELAY)
    assert state() == "terminated"
    report = met(eventual)
    for seen in ("CreateFunction: InvalidParameterValueException",
                 "CreateEventSourceMapping: InvalidParameterValueException",
                 "RunInstances: InvalidParameterValue", "instance: pending",
                 "instance: shutting-down", "EventSourceMapping: Creating"):
        assert report.get(seen), (seen, report)


def test_streams_and_tables_take_time_to_come_and_go(eventual, unique_name):
    kinesis, dynamodb = (aws.client(s, eventual, patient=True) for s in ("kinesis", "dynamodb"))
    table = dynamodb.create_table(**table_shape(unique_name))["TableDescription"]
    assert table["TableStatus"] == "CREATING"
    dynamodb.get_waiter("table_exists").wait(TableName=unique_name,
                                             WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    dynamodb.delete_table(TableName=unique_name)
    assert dynamodb.describe_table(TableName=unique_name)["Table"]["TableStatus"] == "DELETING"
    error = refused(dynamodb.create_table, **table_shape(unique_name))
    assert aws_errors.code(error) == "ResourceInUseException"
    time.sleep(DELAY)
    assert aws_errors.is_missing(refused(dynamodb.describe_table, TableName=unique_name))
    dynamodb.create_table(**table_shape(unique_name))

    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    time.sleep(DELAY)
    kinesis.delete_stream(StreamName=unique_name)
    summary = kinesis.describe_stream_summary(StreamName=unique_name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "DELETING"
    assert aws_errors.code(refused(kinesis.create_stream, StreamName=unique_name,
                                   ShardCount=1)) == "ResourceInUseException"
    time.sleep(DELAY)
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)


def test_a_deleted_queues_name_cools_down(eventual, unique_name):
    sqs = aws.client("sqs", eventual, patient=True)
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    started = time.monotonic()
    error = refused(sqs.create_queue, QueueName=unique_name)
    assert aws_errors.kind(error) == aws_errors.COOLING_DOWN
    assert "wait 60 seconds" in aws_errors.message(error)
    while True:
        try:
            sqs.create_queue(QueueName=unique_name)
            break
        except ClientError as again:
            assert aws_errors.kind(again) == aws_errors.COOLING_DOWN
            time.sleep(0.5)
    assert 12 * DELAY - 1 <= time.monotonic() - started <= 12 * DELAY + 3
    assert met(eventual).get("CreateQueue: QueueDeletedRecently", 0) >= 1
