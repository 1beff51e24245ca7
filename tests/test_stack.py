"""Provisioning against a real moto server: the plan is applied idempotently, a
half-provisioned stack is repaired, deletion sweeps the record, and a dry run touches nothing."""
from __future__ import annotations

import pytest

from orderhist import aws, stack
from orderhist.resources import CREATED, UNCHANGED, UPDATED, Names, Settings, StackContext
from orderhist.state import Home, StackState


@pytest.fixture
def stack_ctx(local_target, unique_name, tmp_path):
    def make() -> StackContext:
        account = aws.client("sts", local_target).get_caller_identity()["Account"]
        return StackContext(local_target, Names(unique_name, account, local_target.region),
                            Settings())
    home = Home(tmp_path)
    # The state a local `up` writes: its record is checked on every load.
    state = StackState.new(home, target="local", prefix=unique_name,
                           region=local_target.region, endpoint=local_target.endpoint_url)
    yield make, state
    stack.destroy(make(), state)


def test_apply_creates_everything_then_changes_nothing(stack_ctx):
    make, state = stack_ctx
    steps = stack.apply(make(), state)
    assert [s.action for s in steps] == [CREATED] * len(stack.plan())
    recorded = dict(state.resources)
    assert set(recorded) == {r.name for r in stack.plan()}

    again = stack.apply(make(), state)
    assert [s.action for s in again] == [UNCHANGED] * len(stack.plan())
    assert state.resources == recorded

    # The state file on disk says the same as memory, resource by resource.
    assert StackState.load(state.home).resources == recorded


def test_resources_are_secure_by_default(stack_ctx, local_target):
    make, state = stack_ctx
    ctx = make()
    stack.apply(ctx, state)
    names = ctx.names
    summary = aws.client("kinesis", local_target).describe_stream_summary(
        StreamName=names.stream)["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "KMS"
    table = aws.client("dynamodb", local_target).describe_table(TableName=names.table)["Table"]
    assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByInvoice"]
    attributes = aws.client("sqs", local_target).get_queue_attributes(
        QueueUrl=state.resources["queue"]["id"], AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    ec2 = aws.client("ec2", local_target)
    group = ec2.describe_security_groups(GroupIds=[state.resources["security_group"]["id"]])
    assert group["SecurityGroups"][0]["IpPermissions"] == []
    instance = ec2.describe_instances(InstanceIds=[state.resources["instance"]["id"]])
    instance = instance["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    mapping = aws.client("lambda", local_target).get_event_source_mapping(
        UUID=state.resources["mapping"]["id"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    on_failure = mapping["DestinationConfig"]["OnFailure"]
    assert on_failure["Destination"] == state.resources["queue"]["arn"]
    s3 = aws.client("s3", local_target)
    block = s3.get_public_access_block(Bucket=names.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_a_half_provisioned_stack_is_repaired(stack_ctx, local_target):
    make, state = stack_ctx
    stack.apply(make(), state)
    ctx = make()
    aws.client("kinesis", local_target).delete_stream(StreamName=ctx.names.stream)
    aws.client("lambda", local_target).delete_event_source_mapping(
        UUID=state.resources["mapping"]["id"])
    iam = aws.client("iam", local_target)
    iam.put_role_policy(RoleName=ctx.names.ingest_role, PolicyName="orderhist",
                        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
                                       '"Allow", "Action": "s3:*", "Resource": "*"}]}')

    steps = {s.resource: s.action for s in stack.apply(make(), state)}
    assert steps["stream"] == CREATED and steps["mapping"] == CREATED
    assert steps["ingest_role"] == UPDATED
    assert steps["table"] == UNCHANGED and steps["function"] == UNCHANGED
    report = stack.check(make(), state)
    assert all(info["exists"] for info in report.values())


def test_destroy_removes_everything_and_twice_is_fine(stack_ctx):
    make, state = stack_ctx
    stack.apply(make(), state)
    deleted = stack.destroy(make(), state)
    assert deleted == [r.name for r in reversed(stack.plan())]
    assert state.resources == {}
    assert not any(info["exists"] for info in stack.check(make(), state).values())
    # A record of resources that are already gone is swept without error.
    state.record("table", id=make().names.table, arn="arn:gone")
    assert stack.destroy(make(), state) == ["table"]


def test_dry_run_touches_nothing(stack_ctx):
    make, state = stack_ctx
    steps = stack.dry_run(make())
    assert {s.action for s in steps} == {"would create"}
    assert not any(info["exists"] for info in stack.check(make(), state).values())
