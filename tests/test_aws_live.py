"""Opt-in: the whole pipeline on a real AWS account (costs a few cents; takes minutes while
the hosts boot). Run with ORDERHIST_LIVE_AWS=1 python -m pytest -m aws tests/test_aws_live.py,
with credentials in the standard chain. Skipped otherwise: this machine has no AWS account.

Covers: `up`, `generate --wait`, `orders`, a second `up` with a changed setting (another
instance type: the host is replaced and the new one ships), and `down`, checking on the way
what moto cannot show: standard CPU credits, the public IPv4 address, the log group's
retention, the TLS-only bucket policy, and that nothing is left afterwards."""
from __future__ import annotations

import json
import os
import uuid
from functools import partial

import pytest

from helpers.cli import run_cli

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(os.environ.get("ORDERHIST_LIVE_AWS") != "1",
                       reason="live AWS test: set ORDERHIST_LIVE_AWS=1 and AWS credentials"),
]


run = partial(run_cli, aws_env="inherit", timeout=1800)  # the real credential chain


def generated_and_stored(home, count: int) -> None:
    generated = run(home, "generate", "--count", str(count), "--wait", "--timeout", "900",
                    "--json")
    assert generated.returncode == 0, generated.stderr
    assert json.loads(generated.stdout)["stored"] == count


def test_up_generate_orders_change_down_on_aws(tmp_path):
    import boto3

    prefix = "ohlive-" + uuid.uuid4().hex[:6]
    region = "us-east-1"  # orderhist's default; the state file's once `up` has run
    try:
        made = run(tmp_path, "up", "--target", "aws", "--prefix", prefix)
        assert made.returncode == 0, made.stderr
        state = json.loads((tmp_path / "state.json").read_text())
        region, resources = state["region"], state["resources"]
        ec2 = boto3.client("ec2", region_name=region)
        first = resources["instance"]["id"]
        host = ec2.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]
        assert host.get("PublicIpAddress")  # the README's cost table counts it
        credits = ec2.describe_instance_credit_specifications(InstanceIds=[first])
        assert credits["InstanceCreditSpecifications"][0]["CpuCredits"] == "standard"
        logs = boto3.client("logs", region_name=region)
        group = logs.describe_log_groups(
            logGroupNamePrefix=resources["log_group"]["id"])["logGroups"][0]
        assert group["retentionInDays"] == 14
        policy = json.loads(boto3.client("s3", region_name=region).get_bucket_policy(
            Bucket=resources["bucket"]["id"])["Policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

        generated_and_stored(tmp_path, 50)
        orders = json.loads(run(tmp_path, "orders", "--customer", "17850", "--json").stdout)
        assert orders["orders"]

        plan = run(tmp_path, "up", "--target", "aws", "--instance-type", "t4g.medium",
                   "--dry-run")
        assert "would replace instance (instance type t4g.small -> t4g.medium)" in \
            " ".join(plan.stdout.split()), plan.stdout + plan.stderr
        changed = run(tmp_path, "up", "--instance-type", "t4g.medium")
        assert changed.returncode == 0, changed.stderr
        second = json.loads((tmp_path / "state.json").read_text())["resources"]["instance"]["id"]
        assert second != first
        host = ec2.describe_instances(InstanceIds=[second])["Reservations"][0]["Instances"][0]
        assert host["InstanceType"] == "t4g.medium"
        generated_and_stored(tmp_path, 20)  # the new host ships
    finally:
        removed = run(tmp_path, "down", "--yes")
        assert removed.returncode == 0, removed.stderr
    assert not boto3.client("logs", region_name=region).describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{prefix}-")["logGroups"]
    tagged = boto3.client("resourcegroupstaggingapi", region_name=region).get_resources(
        TagFilters=[{"Key": "orderhist:stack", "Values": [prefix]}])["ResourceTagMappingList"]
    # Terminated instances and their volumes linger in the tagging index for a while.
    assert not [r for r in tagged if ":instance/" not in r["ResourceARN"]
                and ":volume/" not in r["ResourceARN"]], tagged
