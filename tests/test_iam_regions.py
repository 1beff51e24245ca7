"""IAM is account-wide, everything else regional: two stacks of one prefix in two regions keep
their own roles and instance profile, neither adopts, rewrites nor deletes the other's, and an
IAM resource of this name that lacks the stack's tags is never taken over (against one moto
server, whose IAM is global as AWS's is)."""
from __future__ import annotations

import json
import re
from urllib.parse import unquote

import pytest
from botocore.loaders import create_loader

from orderhist import aws, aws_errors, stack, validate
from orderhist.errors import OrderhistError
from orderhist.resources import UNCHANGED, Names, Settings, StackContext
from orderhist.state import Home, StackState

OTHER_REGION = "eu-west-1"
IAM_RESOURCES = ("ingest_role", "host_role", "host_profile")


def context(local_target, prefix: str, region: str) -> StackContext:
    target = aws.Target(local_target.kind, region, local_target.endpoint_url)
    account = aws.client("sts", target).get_caller_identity()["Account"]
    return StackContext(target, Names(prefix, account, region), Settings())


def inline_policy(local_target, role: str) -> dict:
    document = aws.client("iam", local_target).get_role_policy(
        RoleName=role, PolicyName="orderhist")["PolicyDocument"]
    return json.loads(unquote(document)) if isinstance(document, str) else document


def regions_named(document: dict) -> set[str]:
    resources = [r for s in document["Statement"] for r in
                 ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    return {r.split(":")[3] for r in resources if r.startswith("arn:") and r.split(":")[3]}


def test_iam_names_carry_the_region_and_fit_iam_limits():
    regions = {name for partition in create_loader().load_data("partitions")["partitions"]
               for name in partition["regions"] if re.match(partition["regionRegex"], name)}
    for region in regions:
        names = Names("a" * validate.PREFIX_MAX, "123456789012", region)
        for role in (names.ingest_role, names.host_role):
            assert region in role and len(role) <= 64, role  # IAM's role-name limit
        assert len(names.host_profile) <= 128  # IAM's instance-profile-name limit
    east, west = Names("p", "1", "us-east-1"), Names("p", "1", OTHER_REGION)
    assert {east.ingest_role, east.host_role, east.host_profile}.isdisjoint(
        {west.ingest_role, west.host_role, west.host_profile})


@pytest.mark.slow
def test_two_regions_one_prefix_keep_their_own_roles(local_target, unique_name, tmp_path):
    east_ctx = lambda: context(local_target, unique_name, local_target.region)  # noqa: E731
    west_ctx = lambda: context(local_target, unique_name, OTHER_REGION)  # noqa: E731
    east = StackState.new(Home(tmp_path / "east"), target="local")
    west = StackState.new(Home(tmp_path / "west"), target="local")
    try:
        stack.apply(east_ctx(), east)
        stack.apply(west_ctx(), west)
        east_iam = {east.resources[n]["id"] for n in IAM_RESOURCES}
        west_iam = {west.resources[n]["id"] for n in IAM_RESOURCES}
        assert east_iam.isdisjoint(west_iam)
        for state, region in ((east, local_target.region), (west, OTHER_REGION)):
            for role in ("ingest_role", "host_role"):
                named = regions_named(inline_policy(local_target, state.resources[role]["id"]))
                assert named == {region}, (role, named)
        west_policies = {role: inline_policy(local_target, west.resources[role]["id"])
                         for role in ("ingest_role", "host_role")}

        stack.destroy(east_ctx(), east)
        stack.sweep_strays(east_ctx())

        iam = aws.client("iam", local_target)
        for role, document in west_policies.items():
            assert inline_policy(local_target, west.resources[role]["id"]) == document
        profile = iam.get_instance_profile(
            InstanceProfileName=west.resources["host_profile"]["id"])["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [west.resources["host_role"]["id"]]
        again = stack.apply(west_ctx(), west)
        assert {s.resource: s.action for s in again if s.resource in IAM_RESOURCES} == {
            name: UNCHANGED for name in IAM_RESOURCES}
    finally:
        stack.destroy(east_ctx(), east)
        stack.destroy(west_ctx(), west)


def test_an_iam_role_without_this_stacks_tags_is_never_taken_over(local_target, unique_name,
                                                                   tmp_path):
    ctx = context(local_target, unique_name, local_target.region)
    iam = aws.client("iam", local_target)
    foreign = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", ' \
              '"Action": "s3:ListAllMyBuckets", "Resource": "*"}]}'
    tagged_elsewhere = [{"Key": "orderhist:stack", "Value": unique_name},
                        {"Key": "orderhist:region", "Value": OTHER_REGION}]
    iam.create_role(RoleName=ctx.names.ingest_role, AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName=ctx.names.ingest_role, PolicyName="orderhist",
                        PolicyDocument=foreign)
    iam.create_instance_profile(InstanceProfileName=ctx.names.host_profile,
                                Tags=tagged_elsewhere)
    state = StackState.new(Home(tmp_path), target="local")
    try:
        plan = {resource.name: resource for resource in stack.plan()}
        assert plan["ingest_role"].find(ctx) is None
        assert plan["host_profile"].find(ctx) is None
        with pytest.raises(OrderhistError, match="--prefix"):
            stack.apply(ctx, state)
        # Neither the role's policy nor anything else of it was touched, and neither `down`
        # (even with a record naming them) nor the stray sweep deletes what is not ours.
        assert inline_policy(local_target, ctx.names.ingest_role)["Statement"][0]["Action"] \
            == "s3:ListAllMyBuckets"
        plan["ingest_role"].delete(ctx, {"id": ctx.names.ingest_role})
        plan["host_profile"].delete(ctx, {"id": ctx.names.host_profile})
        stack.destroy(ctx, state)
        stack.sweep_strays(ctx)
        iam.get_role(RoleName=ctx.names.ingest_role)
        iam.get_instance_profile(InstanceProfileName=ctx.names.host_profile)
    finally:
        stack.destroy(context(local_target, unique_name, local_target.region), state)
        iam.delete_role_policy(RoleName=ctx.names.ingest_role, PolicyName="orderhist")
        iam.delete_role(RoleName=ctx.names.ingest_role)
        iam.delete_instance_profile(InstanceProfileName=ctx.names.host_profile)


@pytest.mark.slow
def test_up_in_two_regions_from_two_homes_and_down_of_one(local_target, unique_name, tmp_path):
    """Done means (issue 13): `up --target aws --endpoint-url <moto>` in two regions with one
    prefix, from two homes: both pipelines' roles intact, `down` of one leaves the other whole."""
    from helpers.aws_target import run_aws, snapshot, up_args

    endpoint = local_target.endpoint_url
    east_home, west_home = tmp_path / "east", tmp_path / "west"
    east = run_aws(east_home, endpoint, *up_args(endpoint, unique_name, "--region", "us-east-1"))
    assert east.returncode == 0, east.stderr
    west = run_aws(west_home, endpoint, *up_args(endpoint, unique_name, "--region", OTHER_REGION))
    try:
        assert west.returncode == 0, west.stderr
        west_state = json.loads((west_home / "state.json").read_text())["resources"]
        before = {role: inline_policy(local_target, west_state[role]["id"])
                  for role in ("ingest_role", "host_role")}
        assert all(regions_named(doc) == {OTHER_REGION} for doc in before.values())

        removed = run_aws(east_home, endpoint, "down", "--yes")
        assert removed.returncode == 0, removed.stderr
        east_left = snapshot(local_target, unique_name)
        assert not any("-us-east-1-" in name for name in east_left["roles"]
                       + east_left["profiles"]), east_left
        west_target = aws.Target(local_target.kind, OTHER_REGION, endpoint)
        west_left = snapshot(west_target, unique_name)
        assert sorted(west_left["roles"]) == sorted(
            west_state[role]["id"] for role in ("ingest_role", "host_role"))
        assert west_left["profiles"] == [west_state["host_profile"]["id"]]
        assert west_left["functions"] and west_left["instances"] and west_left["tables"]
        assert {role: inline_policy(local_target, west_state[role]["id"])
                for role in before} == before
        status = run_aws(west_home, endpoint, "status", "--json")
        assert status.returncode == 0, status.stderr
        resources = json.loads(status.stdout)["resources"]
        assert all(resources[name]["exists"] for name in IAM_RESOURCES), resources
    finally:
        gone = run_aws(west_home, endpoint, "down", "--yes")
        assert gone.returncode == 0, gone.stderr


def test_down_removes_the_roles_an_older_orderhist_made(local_target, unique_name):
    """An `up` before IAM names carried the region named the roles `<prefix>-ingest-role` and
    tagged them with the stack only: a `down` of that stack's record still removes them, and
    never one of that name that another stack tagged."""
    ctx = context(local_target, unique_name, local_target.region)
    iam = aws.client("iam", local_target)
    plan = {resource.name: resource for resource in stack.plan()}
    ours, theirs = f"{unique_name}-ingest-role", f"{unique_name}-host-role"
    iam.create_role(RoleName=ours, AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": "orderhist:stack", "Value": unique_name}])
    iam.create_role(RoleName=theirs, AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": "orderhist:stack", "Value": unique_name + "x"}])
    try:
        plan["ingest_role"].delete(ctx, {"id": ours})
        plan["host_role"].delete(ctx, {"id": theirs})
        with pytest.raises(Exception) as gone:
            iam.get_role(RoleName=ours)
        assert aws_errors.is_missing(gone.value)
        iam.get_role(RoleName=theirs)
    finally:
        iam.delete_role(RoleName=theirs)
