"""IAM enforced by the real emulator (`emulator serve --enforce-iam`), through real boto3
clients: a role's keys from sts:AssumeRole get exactly what its policies allow, resource by
resource (the fast paths too), each refusal in its service's own error shape with AWS's
message; root keys get everything; the trust policy decides who may assume the role; a
policy change takes effect at once; enforcement can be turned off."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from orderhist import aws, emulator, identity
from orderhist.state import Home

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = "iamx-reader"
SESSION = "s-1"


def arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


TABLE, OTHER_TABLE = arn("dynamodb", "table/iamx-orders"), arn("dynamodb", "table/iamx-other")
STREAM, OTHER_STREAM = arn("kinesis", "stream/iamx-orders"), arn("kinesis", "stream/iamx-other")
QUEUE = arn("sqs", "iamx-rejects")
GROUP = "/aws/lambda/iamx"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:BatchWriteItem", "Resource": TABLE},
    {"Effect": "Allow", "Action": ["kinesis:GetShardIterator", "kinesis:GetRecords"],
     "Resource": STREAM},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::iamx-bucket/in/*"},
]}
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("iam-enforced"))
    home.make_dirs()
    endpoint = emulator.start(home, aws.local_child_environment(REGION), enforce_iam=True)
    target = aws.Target(aws.LOCAL, REGION, endpoint)
    try:
        ddb = aws.client("dynamodb", target)
        for name in ("iamx-orders", "iamx-other"):
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        kinesis = aws.client("kinesis", target)
        for name in ("iamx-orders", "iamx-other"):
            kinesis.create_stream(StreamName=name, ShardCount=1)
            kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        queue_url = aws.client("sqs", target).create_queue(QueueName="iamx-rejects")["QueueUrl"]
        s3 = aws.client("s3", target)
        s3.create_bucket(Bucket="iamx-bucket")
        for key in ("in/a", "out/b"):
            s3.put_object(Bucket="iamx-bucket", Key=key, Body=b"x")
        aws.client("logs", target).create_log_group(logGroupName=GROUP)
        iam = aws.client("iam", target)
        role_arn = iam.create_role(RoleName=ROLE,
                                   AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName=ROLE, PolicyName="p", PolicyDocument=json.dumps(POLICY))
        yield {"target": target, "endpoint": endpoint, "role_arn": role_arn,
               "queue_url": queue_url}
    finally:
        emulator.stop(home)


def role_client(stack, service: str, acting_for: str = identity.LAMBDA):
    keys = identity.assume(aws.client("sts", stack["target"]),
                           identity.RoleSource(stack["role_arn"], SESSION, acting_for))
    return boto3.client(service, region_name=REGION, endpoint_url=stack["endpoint"],
                        aws_access_key_id=keys["access_key"],
                        aws_secret_access_key=keys["secret_key"],
                        aws_session_token=keys["token"])


def refusal(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def aws_message(action: str, resource: str, explicit: bool = False) -> str:
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION} is not authorized to "
            f"perform: {action} on resource: {resource} {why}")


def put(key: str) -> dict:
    return {"PutRequest": {"Item": {"k": {"S": key}}}}


def test_dynamodb_every_table_of_a_batch_is_authorised(stack):
    ddb = role_client(stack, "dynamodb")
    ddb.batch_write_item(RequestItems={"iamx-orders": [put("a")]})  # the fast path
    error = refusal(lambda: ddb.batch_write_item(
        RequestItems={"iamx-orders": [put("b")], "iamx-other": [put("b")]}))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == aws_message("dynamodb:BatchWriteItem",
                                                             OTHER_TABLE)
    # Nothing of the refused call was written, not even to the allowed table.
    assert "Item" not in aws.client("dynamodb", stack["target"]).get_item(
        TableName="iamx-orders", Key={"k": {"S": "b"}})
    error = refusal(lambda: ddb.query(TableName="iamx-orders", IndexName="ByX",
                                      KeyConditionExpression="k = :k",
                                      ExpressionAttributeValues={":k": {"S": "a"}}))
    assert error.response["Error"]["Message"] == aws_message("dynamodb:Query",
                                                             TABLE + "/index/ByX")


def test_kinesis_get_records_is_authorised_on_the_iterators_stream(stack):
    kinesis = role_client(stack, "kinesis")
    iterator = kinesis.get_shard_iterator(StreamName="iamx-orders", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(kinesis.get_records(ShardIterator=iterator)["Records"]) == 1
    other = aws.client("kinesis", stack["target"]).get_shard_iterator(
        StreamName="iamx-other", ShardId="shardId-000000000000",
        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    error = refusal(lambda: kinesis.get_records(ShardIterator=other))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["Error"]["Message"] == aws_message("kinesis:GetRecords", OTHER_STREAM)
    error = refusal(lambda: kinesis.put_records(
        StreamName="iamx-orders", Records=[{"Data": b"y", "PartitionKey": "k"}]))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["Error"]["Message"] == aws_message("kinesis:PutRecords", STREAM)


def test_sqs_s3_and_logs_refuse_in_their_own_shapes(stack):
    error = refusal(lambda: role_client(stack, "sqs").send_message(
        QueueUrl=stack["queue_url"], MessageBody="x"))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == aws_message("sqs:SendMessage", QUEUE)

    s3 = role_client(stack, "s3")
    assert s3.get_object(Bucket="iamx-bucket", Key="in/a")["Body"].read() == b"x"
    error = refusal(lambda: s3.get_object(Bucket="iamx-bucket", Key="out/b"))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == aws_message(
        "s3:GetObject", "arn:aws:s3:::iamx-bucket/out/b")

    error = refusal(lambda: role_client(stack, "logs").create_log_stream(
        logGroupName=GROUP, logStreamName="x"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["Error"]["Message"] == aws_message(
        "logs:CreateLogStream", arn("logs", f"log-group:{GROUP}:log-stream:x"))


def test_root_keys_may_do_everything(stack):
    aws.client("kinesis", stack["target"]).put_records(
        StreamName="iamx-other", Records=[{"Data": b"y", "PartitionKey": "k"}])
    aws.client("sqs", stack["target"]).send_message(QueueUrl=stack["queue_url"],
                                                     MessageBody="x")


def test_the_trust_policy_decides_who_assumes_the_role(stack):
    sts = aws.client("sts", stack["target"])
    error = refusal(lambda: sts.assume_role(RoleArn=stack["role_arn"], RoleSessionName="me"))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on "
        f"resource: {stack['role_arn']}")
    error = refusal(lambda: role_client(stack, "sts", acting_for=identity.EC2))
    assert error.response["Error"]["Code"] == "AccessDenied"
    who = role_client(stack, "sts").get_caller_identity()["Arn"]
    assert who == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}"


def test_a_policy_change_applies_at_once_and_an_explicit_deny_wins(stack):
    kinesis = role_client(stack, "kinesis")
    iam = aws.client("iam", stack["target"])
    entry = [{"Data": b"z", "PartitionKey": "k"}]
    refusal(lambda: kinesis.put_records(StreamName="iamx-orders", Records=entry))
    wider = {**POLICY, "Statement": POLICY["Statement"] + [
        {"Effect": "Allow", "Action": "kinesis:Put*", "Resource": STREAM}]}
    try:
        iam.put_role_policy(RoleName=ROLE, PolicyName="p", PolicyDocument=json.dumps(wider))
        put = kinesis.put_records(StreamName="iamx-orders", Records=entry)
        assert put["FailedRecordCount"] == 0
        managed = iam.create_policy(PolicyName="iamx-deny", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "kinesis:*", "Resource": STREAM}]}))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)
        error = refusal(lambda: kinesis.put_records(StreamName="iamx-orders", Records=entry))
        assert error.response["Error"]["Message"] == aws_message("kinesis:PutRecords", STREAM,
                                                                 explicit=True)
        iam.detach_role_policy(RoleName=ROLE, PolicyArn=managed)
    finally:
        iam.put_role_policy(RoleName=ROLE, PolicyName="p", PolicyDocument=json.dumps(POLICY))


def test_enforcement_turned_off_lets_the_role_through(stack):
    sqs = role_client(stack, "sqs")
    refusal(lambda: sqs.send_message(QueueUrl=stack["queue_url"], MessageBody="x"))
    try:
        assert emulator.set_iam(stack["endpoint"], False)["enforce"] is False
        sqs.send_message(QueueUrl=stack["queue_url"], MessageBody="x")
    finally:
        assert emulator.set_iam(stack["endpoint"], True)["enforce"] is True
    refusal(lambda: sqs.send_message(QueueUrl=stack["queue_url"], MessageBody="x"))


def test_kinesis_in_cbor_is_authorised_and_refused_in_cbor(stack):
    """The AWS SDK for Java (the Kinesis Agent) talks CBOR to Kinesis: its requests name
    their stream inside CBOR, and a refusal is answered in CBOR."""
    import urllib.error
    import urllib.request

    import cbor2

    keys = identity.assume(aws.client("sts", stack["target"]),
                           identity.RoleSource(stack["role_arn"], SESSION, identity.LAMBDA))

    def call(operation: str, payload: dict):
        request = urllib.request.Request(
            stack["endpoint"] + "/", data=cbor2.dumps(payload), method="POST",
            headers={"Content-Type": "application/x-amz-cbor-1.1",
                     "X-Amz-Target": f"Kinesis_20131202.{operation}",
                     "Authorization": f"AWS4-HMAC-SHA256 Credential={keys['access_key']}/"
                                      "20260101/us-east-1/kinesis/aws4_request, "
                                      "SignedHeaders=host, Signature=0"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.headers["Content-Type"], cbor2.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Type"], cbor2.loads(error.read())

    status, kind, reply = call("GetShardIterator", {
        "StreamName": "iamx-orders", "ShardId": "shardId-000000000000",
        "ShardIteratorType": "TRIM_HORIZON"})
    assert status == 200, reply
    # The SDK for Java writes a timestamp as tag 1 holding epoch milliseconds: the stream is
    # still read from the request, so the role's stream-scoped grant applies.
    status, kind, reply = call("GetShardIterator", {
        "StreamName": "iamx-orders", "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": cbor2.CBORTag(1, 1_764_460_800_000)})
    assert status == 200, reply
    status, kind, reply = call("PutRecord", {"StreamName": "iamx-orders", "PartitionKey": "k",
                                             "Data": b"\x00"})
    assert (status, kind) == (400, "application/x-amz-cbor-1.1")
    assert reply["__type"] == "AccessDeniedException"
    assert reply["message"] == aws_message("kinesis:PutRecord", STREAM)


def test_a_session_policy_and_a_permissions_boundary_limit_the_role(stack):
    iam, target = aws.client("iam", stack["target"]), stack["target"]
    only_get_records = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": "*"}]})
    sts = aws.client("sts", target)  # root may not assume it: it says the service it acts for
    sts.meta.events.register("before-sign.sts.AssumeRole", lambda request, **kwargs: (
        request.headers.__setitem__(identity.ACTING_SERVICE_HEADER, identity.LAMBDA)))
    keys = sts.assume_role(RoleArn=stack["role_arn"], RoleSessionName=SESSION,
                           Policy=only_get_records)["Credentials"]
    limited = boto3.client("dynamodb", region_name=REGION, endpoint_url=stack["endpoint"],
                           aws_access_key_id=keys["AccessKeyId"],
                           aws_secret_access_key=keys["SecretAccessKey"],
                           aws_session_token=keys["SessionToken"])
    error = refusal(lambda: limited.batch_write_item(RequestItems={"iamx-orders": [put("s")]}))
    assert error.response["Error"]["Message"].endswith(
        "because no session policy allows the dynamodb:BatchWriteItem action")

    boundary = iam.create_policy(PolicyName="iamx-boundary", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=ROLE, PermissionsBoundary=boundary)
    try:
        error = refusal(lambda: role_client(stack, "dynamodb").batch_write_item(
            RequestItems={"iamx-orders": [put("t")]}))
        assert error.response["Error"]["Message"].endswith(
            "because no permissions boundary allows the dynamodb:BatchWriteItem action")
    finally:
        iam.delete_role_permissions_boundary(RoleName=ROLE)
    role_client(stack, "dynamodb").batch_write_item(RequestItems={"iamx-orders": [put("t")]})


def test_a_trust_condition_on_the_external_id_is_checked(stack):
    iam, sts = aws.client("iam", stack["target"]), aws.client("sts", stack["target"])
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "e-1"}}}]}
    role = iam.create_role(RoleName="iamx-external",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    refusal(lambda: sts.assume_role(RoleArn=role, RoleSessionName="x1"))
    refusal(lambda: sts.assume_role(RoleArn=role, RoleSessionName="x1", ExternalId="e-2"))
    assert sts.assume_role(RoleArn=role, RoleSessionName="x1", ExternalId="e-1")["Credentials"]
