"""Issue 13, items 3, 4 and 7, against a moto server through --endpoint-url: the artifacts
bucket is this account's or `up` stops; every S3 call names the expected owner and the bucket
refuses plain HTTP; a changed setting reaches the host (set-up re-run through SSM, or a new
instance with the image of its type's architecture); the host's costs and the function's log
group are what the README says."""
from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest

from helpers.aws_target import empty, run_aws, snapshot, up_args
from helpers.request_log_proxy import RecordingProxy
from orderhist import aws, stack
from orderhist.resources import (
    UPDATED,
    Names,
    Settings,
    StackContext,
    artifacts,
    host_refresh,
    machine,
)
from orderhist.state import Home, StackState

REPO = Path(__file__).resolve().parent.parent
OTHER_ACCOUNT = "111122223333"
LOG_RETENTION_DAYS = 14


def other_account(service: str, endpoint: str):
    """A client acting as another AWS account (moto's x-moto-account-id header)."""
    client = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="other", aws_secret_access_key="other")

    def as_other(request, **_):
        request.headers["x-moto-account-id"] = OTHER_ACCOUNT
    client.meta.events.register("before-sign", as_other)
    return client


def account_of(target) -> str:
    return aws.client("sts", target).get_caller_identity()["Account"]


def objects(s3, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def instance_of(target, instance_id: str) -> dict:
    return aws.client("ec2", target).describe_instances(
        InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def image_for(target, architecture: str) -> str:
    return aws.client("ssm", target).get_parameter(
        Name=machine.AMI_PARAMETER.format(architecture))["Parameter"]["Value"]


def state_of(home) -> dict:
    return json.loads((Path(home) / "state.json").read_text())


def test_a_bucket_of_that_name_in_another_account_is_refused(local_target, unique_name,
                                                             tmp_path):
    endpoint = local_target.endpoint_url
    bucket = f"{unique_name}-artifacts-{account_of(local_target)}-us-east-1"
    other = other_account("s3", endpoint)
    other.create_bucket(Bucket=bucket)
    bait = {"host/orderhist.zip": b"the other account's code"}
    other.put_object(Bucket=bucket, Key="host/orderhist.zip", Body=bait["host/orderhist.zip"])
    try:
        for extra in (["--dry-run"], []):
            result = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, *extra))
            assert result.returncode == 1, result.stdout + result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert bucket in lines[0] and "another AWS account" in lines[0]
            assert "--prefix" in lines[0]
            assert objects(other, bucket) == bait  # nothing uploaded, nothing replaced
            assert empty(snapshot(local_target, unique_name))  # nothing else made either
        # `down` after the refusal leaves the other account's bucket alone.
        assert run_aws(tmp_path, endpoint, "down", "--yes").returncode == 0
        assert objects(other, bucket) == bait
    finally:
        for key in objects(other, bucket):
            other.delete_object(Bucket=bucket, Key=key)
        other.delete_bucket(Bucket=bucket)


def test_an_unknown_instance_type_is_refused_before_anything_is_made(local_target,
                                                                     unique_name, tmp_path):
    endpoint = local_target.endpoint_url
    for extra in (["--dry-run"], []):
        # Shaped like a Graviton type, so only EC2 itself can tell it does not exist.
        result = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, "--instance-type",
                                                       "t9g.small", *extra))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "t9g.small" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert empty(snapshot(local_target, unique_name))


@pytest.mark.slow
def test_calls_name_the_owner_host_credits_public_ip_and_log_group(local_target, unique_name,
                                                                tmp_path):
    account = account_of(local_target)
    with RecordingProxy(local_target.endpoint_url) as proxy:
        endpoint = proxy.url
        result = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name))
        assert result.returncode == 0, result.stderr
        resources = state_of(tmp_path)["resources"]
        bucket = resources["bucket"]["id"]

        # The host: standard CPU credits (a t4g starts unlimited) and an explicit public IPv4.
        launches = [r.form() for r in proxy.requests
                    if r.service == "ec2" and r.form().get("Action") == ["RunInstances"]]
        assert len(launches) == 1
        assert launches[0]["CreditSpecification.CpuCredits"] == ["standard"]
        assert launches[0]["NetworkInterface.1.AssociatePublicIpAddress"] == ["true"]
        assert launches[0]["NetworkInterface.1.SecurityGroupId.1"] == \
            [resources["security_group"]["id"]]

        # The function's log group exists before the function, with a retention and tags.
        logs = aws.client("logs", local_target)
        name = f"/aws/lambda/{resources['function']['id']}"
        groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                  if g["logGroupName"] == name]
        assert groups and groups[0]["retentionInDays"] == LOG_RETENTION_DAYS
        assert logs.list_tags_log_group(
            logGroupName=name)["tags"].get("orderhist:stack") == unique_name
        assert resources["log_group"]["id"] == name

        removed = run_aws(tmp_path, endpoint, "down", "--yes")
        assert removed.returncode == 0, removed.stderr
        assert not logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]

    # Every S3 call on the bucket, by `up` and by `down`, named this account as its owner
    # (CreateBucket, which makes it, has no such parameter).
    on_bucket = [r for r in proxy.requests if r.service == "s3"
                 and r.path.strip("/").split("/")[0] == bucket]
    creations = [r for r in on_bucket if r.method == "PUT" and r.path.strip("/") == bucket
                 and not r.query]
    assert len(creations) == 1
    unowned = [f"{r.method} {r.path} {sorted(r.query)}" for r in on_bucket
               if r not in creations and r.headers.get("x-amz-expected-bucket-owner") != account]
    assert len(on_bucket) > 8 and not unowned, unowned
    assert {r.method for r in on_bucket} >= {"HEAD", "PUT", "DELETE"}


def test_the_bucket_denies_every_request_without_tls(local_target, unique_name, monkeypatch):
    """The policy as put on AWS (over plain HTTP, as here, it would refuse orderhist's own
    calls, so orderhist puts it only where it talks TLS: checked below)."""
    monkeypatch.setattr(artifacts, "wants_tls_policy", lambda target: True)
    ctx = StackContext(local_target, Names(unique_name, account_of(local_target),
                                           local_target.region), Settings())
    bucket = artifacts.Bucket()
    record = bucket.create(ctx)
    try:
        policy = json.loads(aws.client("s3", local_target).get_bucket_policy(
            Bucket=record["id"])["Policy"])
        deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert len(deny) == 1 and deny[0]["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Action"] == "s3:*" and deny[0]["Principal"] == "*"
        arn = f"arn:aws:s3:::{record['id']}"
        assert set(deny[0]["Resource"]) == {arn, f"{arn}/*"}
        assert bucket.drift(ctx, record) == []
        # A bucket made by an older orderhist, without the policy, gets it at the next `up`.
        aws.client("s3", local_target).delete_bucket_policy(Bucket=record["id"])
        assert bucket.drift(ctx, record) == ["TLS-only policy missing"]
        assert bucket.update(ctx, record)[0] == UPDATED and bucket.drift(ctx, record) == []
    finally:
        bucket.delete(ctx, record)
    monkeypatch.undo()
    assert artifacts.wants_tls_policy(aws.Target(aws.AWS, "eu-west-1"))
    assert artifacts.wants_tls_policy(aws.Target(aws.AWS, "eu-west-1", "https://s3.example"))
    assert not artifacts.wants_tls_policy(local_target)


@pytest.mark.slow
def test_host_follows_changed_settings(local_target, unique_name, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the plan's table keeps each action on one line
    endpoint = local_target.endpoint_url
    assert run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name)).returncode == 0
    first = state_of(tmp_path)["resources"]["instance"]["id"]
    host = instance_of(local_target, first)
    assert host["InstanceType"] == "t4g.small"
    assert host["ImageId"] == image_for(local_target, "arm64")

    # orderhist's code changed since the host was set up (its recorded digest is old):
    ec2 = aws.client("ec2", local_target)
    tags = {t["Key"]: t["Value"] for t in host["Tags"]}
    old = re.sub(r"code=\w+", "code=000000000000", tags[host_refresh.SETUP_TAG])
    ec2.create_tags(Resources=[first], Tags=[{"Key": host_refresh.SETUP_TAG, "Value": old}])
    plan = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, "--dry-run"))
    assert plan.returncode == 0, plan.stderr
    assert "would re-run host set-up (code changed)" in " ".join(plan.stdout.split())
    assert run_aws(tmp_path, endpoint, "up").returncode == 0
    # ... so its set-up ran again through SSM, on the same host, and the host says so.
    runs = [c for c in aws.client("ssm", local_target).list_commands(InstanceId=first)["Commands"]
            if c["Comment"].startswith("orderhist up")]
    assert len(runs) == 1 and runs[0]["DocumentName"] == "AWS-RunShellScript"
    assert "systemctl restart orderhist-agent" in runs[0]["Parameters"]["commands"][0]
    assert state_of(tmp_path)["resources"]["instance"]["id"] == first
    tags = {t["Key"]: t["Value"] for t in instance_of(local_target, first)["Tags"]}
    assert tags[host_refresh.SETUP_TAG] != old
    again = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, "--dry-run"))
    assert "instance" in again.stdout and "would re-run" not in again.stdout

    # A new instance type replaces the host; the dry run says so first.
    plan = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, "--instance-type",
                                                 "m7g.medium", "--dry-run"))
    assert plan.returncode == 0, plan.stderr
    assert "would replace instance (instance type t4g.small -> m7g.medium)" in \
        " ".join(plan.stdout.split())
    assert instance_of(local_target, first)["State"]["Name"] == "running"
    replaced = run_aws(tmp_path, endpoint, "up", "--instance-type", "m7g.medium")
    assert replaced.returncode == 0, replaced.stderr
    second = state_of(tmp_path)["resources"]["instance"]["id"]
    assert second != first
    assert instance_of(local_target, first)["State"]["Name"] == "terminated"
    assert instance_of(local_target, second)["InstanceType"] == "m7g.medium"
    assert instance_of(local_target, second)["ImageId"] == image_for(local_target, "arm64")

    removed = run_aws(tmp_path, endpoint, "down", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert empty(snapshot(local_target, unique_name)), snapshot(local_target, unique_name)


def test_the_image_follows_the_instance_types_architecture(local_target, unique_name,
                                                           tmp_path):
    """In-process (the CLI's own check still admits only arm64 types): an x86_64 type gets the
    x86_64 image, and changing to an arm64 type replaces the host with the arm64 image."""
    account = account_of(local_target)
    state = StackState.new(Home(tmp_path), target="local", prefix=unique_name,
                           region=local_target.region)

    def context(instance_type: str) -> StackContext:
        return StackContext(local_target, Names(unique_name, account, local_target.region),
                            Settings(instance_type=instance_type))
    try:
        stack.apply(context("t3.small"), state)
        first = state.resources["instance"]["id"]
        assert instance_of(local_target, first)["ImageId"] == image_for(local_target, "x86_64")
        plan = {s.resource: s.action for s in stack.dry_run(context("t4g.small"))}
        assert plan["instance"] == ("would replace instance (instance type t3.small -> "
                                    "t4g.small, x86_64 -> arm64 image)")
        steps = {s.resource: s.action for s in stack.apply(context("t4g.small"), state)}
        assert steps["instance"] == UPDATED
        second = state.resources["instance"]["id"]
        assert second != first
        assert instance_of(local_target, second)["ImageId"] == image_for(local_target, "arm64")
        assert instance_of(local_target, first)["State"]["Name"] == "terminated"
    finally:
        stack.destroy(context("t4g.small"), state)


def test_readme_tells_the_aws_costs_and_leftovers_truly():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Deploying to AWS"):]
    text = " ".join(section.split())
    assert "public IPv4" in text and "$0.005" in text
    assert "standard" in text and "CPU credits" in text
    assert f"{LOG_RETENTION_DAYS} days" in text and "/aws/lambda/" in text
    assert "nothing of the stack is billed" not in text
    assert "--expected-bucket-owner" in text or "ExpectedBucketOwner" in text
    assert "aws:SecureTransport" in text
