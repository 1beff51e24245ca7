"""Every action in every policy orderhist writes exists in AWS's list of actions (policy_sentry's
copy of the Service Authorization Reference) with a resource type that its statement's
resources can name, and every action is there because something calls it."""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from botocore import xform_name
from botocore.loaders import create_loader
from policy_sentry.querying.actions import get_action_data

from helpers.policies import LOGS, QUEUE, documents
from orderhist import policies

SRC = Path(policies.__file__).resolve().parent
# AmazonSSMManagedInstanceCore, v2 (the default version since 2019-05-23), as published in
# AWS's managed policy reference (docs.aws.amazon.com/aws-managed-policy/latest/reference/
# AmazonSSMManagedInstanceCore.html): the policy the host's SSM statement claims a part of.
SSM_MANAGED_INSTANCE_CORE = {
    "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
    "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters",
    "ssm:ListAssociations", "ssm:ListInstanceAssociations", "ssm:PutInventory",
    "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult", "ssm:UpdateAssociationStatus",
    "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
}


def listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def actions_of(document: dict, prefix: str = "") -> set[str]:
    return {action for statement in document["Statement"]
            for action in listed(statement["Action"]) if action.startswith(prefix)}


def _glob(pattern: str) -> str:
    """A resource ARN format of the reference ("${Partition}", "${StreamName}") or a policy's
    resource as a glob where only `*` is special."""
    return re.sub(r"\$\{[^}]+\}", "*", pattern).replace("?", "*")


def overlap(a: str, b: str) -> bool:
    """Whether some ARN matches both globs (IAM's `*` matches any run of characters)."""
    a, b = _glob(a), _glob(b)

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) or j == len(b):
            return a[i:].strip("*") == "" and b[j:].strip("*") == ""
        if a[i] == "*":
            return meet(i + 1, j) or meet(i, j + 1)
        if b[j] == "*":
            return meet(i, j + 1) or meet(i + 1, j)
        return a[i] == b[j] and meet(i + 1, j + 1)

    return meet(0, 0)


def test_overlap_is_iam_wildcard_matching():
    group = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    stream = group + ":log-stream:${LogStreamName}"
    assert overlap(LOGS + ":*", stream) and overlap(LOGS, group) and not overlap(LOGS, stream)
    assert not overlap(QUEUE, "arn:${Partition}:kinesis:${Region}:${Account}:stream/${Name}")


def resource_formats(action: str) -> set[str]:
    service, verb = action.split(":")
    rows = (get_action_data(service, verb) or {}).get(service, [])
    return {row["resource_arn_format"] for row in rows if row["action"].lower() == action.lower()}


def test_every_action_exists_with_a_resource_type_its_statement_names():
    problems = []
    for name, document in documents().items():
        for statement in document["Statement"]:
            # A trust policy is the role's resource policy: no Resource element to check.
            resources = [] if "Principal" in statement else listed(statement["Resource"])
            used = set()
            for action in listed(statement["Action"]):
                formats = resource_formats(action)
                if not formats:
                    problems.append(f"{name}: {action} is not an AWS action")
                    continue
                typed = formats - {"*"}
                for resource in resources:
                    if resource == "*":
                        used.add(resource)
                        # "*" only for actions that take no resource type, or whose resource
                        # cannot exist yet (the instance is launched with the role already
                        # made): ssm:UpdateInstanceInformation, as AWS's own SSM policies do.
                        if typed and action != "ssm:UpdateInstanceInformation":
                            problems.append(f"{name}: {action} on * but it takes {typed}")
                    elif any(overlap(resource, f) for f in typed):
                        used.add(resource)
                if resources and "*" not in resources and not any(
                        overlap(r, f) for r in resources for f in typed):
                    problems.append(f"{name}: {action} can act on none of {resources}")
            problems += [f"{name}: no action acts on {r}" for r in resources if r not in used]
    assert problems == []


def test_the_hosts_ssm_actions_are_run_commands_and_all_in_the_managed_policy():
    host = documents()["host"]
    ssm = actions_of(host, "ssm") | actions_of(host, "ec2messages")
    assert ssm == set(policies.RUN_COMMAND_ACTIONS)
    assert ssm <= SSM_MANAGED_INSTANCE_CORE, ssm - SSM_MANAGED_INSTANCE_CORE
    # Run Command cannot work without registering, and without one of the two message paths.
    assert "ssm:UpdateInstanceInformation" in ssm
    assert {"ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel"} <= ssm
    assert {f"ec2messages:{verb}" for verb in (
        "AcknowledgeMessage", "DeleteMessage", "FailMessage", "GetEndpoint", "GetMessages",
        "SendReply")} <= ssm


def _operations_called(paths: list[Path], service: str) -> set[str]:
    """The `service` API operations the given modules call, by botocore's method names."""
    model = create_loader().load_service_model(service, "service-2")
    by_method = {xform_name(op): op for op in model["operations"]}
    called = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in by_method:
                called.add(f"{service}:{by_method[node.func.attr]}")
    return called


def test_the_data_actions_are_exactly_what_the_code_calls():
    ingest, host = documents()["ingest"], documents()["host"]
    # The handler is the only code that runs as the ingest role and writes the table.
    assert actions_of(ingest, "dynamodb:") == _operations_called(
        [SRC / "function" / "handler.py"], "dynamodb")
    # The mapping itself reads the stream (Lambda's documented five) and sends given-up
    # batches to the queue: nothing reads the queue's attributes.
    assert actions_of(ingest, "kinesis:") == set(policies.MAPPING_STREAM_ACTIONS)
    assert actions_of(ingest, "sqs:") == {"sqs:SendMessage"}
    # On the host only the agent calls Kinesis (the Java agent's KinesisSender sends with
    # PutRecords alone too).
    assert actions_of(host, "kinesis:") == _operations_called(
        sorted((SRC / "agent").glob("*.py")), "kinesis")
