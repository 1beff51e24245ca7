"""The emulator's IAM policy evaluation on its own: allow, deny by default, explicit deny wins,
wildcards in actions and resources, NotAction/NotResource, policy variables, conditions, and
trust-policy principals."""
from __future__ import annotations

import json

import pytest

from orderhist.emulator.iam_eval import (
    ALLOW,
    DENY,
    IMPLICIT,
    Verdict,
    combine,
    conditions_hold,
    evaluate,
    principal_matches,
    wildcard_match,
)

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/p-orders"
OTHER = "arn:aws:dynamodb:us-east-1:123456789012:table/other"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/p-orders"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource, **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decision(policies, action, resources, context=None) -> str:
    return evaluate(policies, action, resources, context or {}).decision


def test_an_allow_for_the_action_and_resource_allows():
    assert decision([policy(allow("dynamodb:BatchWriteItem", TABLE))],
                    "dynamodb:BatchWriteItem", [TABLE]) == ALLOW


def test_deny_by_default_other_action_other_resource_or_no_policy():
    given = [policy(allow("dynamodb:BatchWriteItem", TABLE))]
    assert decision(given, "dynamodb:PutItem", [TABLE]) == IMPLICIT
    assert decision(given, "dynamodb:BatchWriteItem", [OTHER]) == IMPLICIT
    assert decision([], "dynamodb:BatchWriteItem", [TABLE]) == IMPLICIT


def test_every_resource_of_a_batch_must_be_allowed_and_the_refused_one_is_named():
    verdict = evaluate([policy(allow("dynamodb:BatchWriteItem", TABLE))],
                       "dynamodb:BatchWriteItem", [TABLE, OTHER], {})
    assert (verdict.decision, verdict.resource) == (IMPLICIT, OTHER)


def test_explicit_deny_wins_over_any_allow_in_any_policy():
    given = [policy(allow("dynamodb:*", "*")), policy(deny("dynamodb:BatchWriteItem", TABLE))]
    assert decision(given, "dynamodb:BatchWriteItem", [TABLE]) == DENY
    assert decision(given, "dynamodb:BatchWriteItem", [OTHER]) == ALLOW


def test_wildcards_in_actions_are_case_insensitive_and_in_resources_case_sensitive():
    given = [policy(allow(["kinesis:Get*", "kinesis:describestream?ummary"],
                          "arn:aws:kinesis:*:123456789012:stream/p-*"))]
    assert decision(given, "kinesis:GetRecords", [STREAM]) == ALLOW
    assert decision(given, "kinesis:GetShardIterator", [STREAM]) == ALLOW
    assert decision(given, "kinesis:DescribeStreamSummary", [STREAM]) == ALLOW
    assert decision(given, "kinesis:PutRecords", [STREAM]) == IMPLICIT
    assert decision(given, "kinesis:GetRecords", [STREAM.replace("p-", "P-")]) == IMPLICIT
    # `*` crosses the ARN's separators, as in AWS (the logs group's streams).
    group = "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/p-ingest"
    assert decision([policy(allow("logs:PutLogEvents", group + ":*"))], "logs:PutLogEvents",
                    [group + ":log-stream:2026/11/30/[$LATEST]abc"]) == ALLOW
    assert wildcard_match("s3:Get?bject", "s3:GetObject", True)
    assert not wildcard_match("arn:aws:s3:::b/a*", "arn:aws:s3:::b/x/a")


def test_not_action_and_not_resource():
    given = [policy({"Effect": "Allow", "NotAction": "dynamodb:DeleteTable", "Resource": TABLE},
                    {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [TABLE]})]
    assert decision(given, "dynamodb:Query", [TABLE]) == ALLOW
    assert decision(given, "dynamodb:DeleteTable", [TABLE]) == IMPLICIT
    assert decision(given, "dynamodb:Query", [OTHER]) == DENY


def test_policy_variables_in_resources():
    given = [policy(allow("s3:GetObject", "arn:aws:s3:::b/${aws:userid}/*"))]
    context = {"aws:userid": "AROAX:i-1"}
    assert decision(given, "s3:GetObject", ["arn:aws:s3:::b/AROAX:i-1/k"], context) == ALLOW
    assert decision(given, "s3:GetObject", ["arn:aws:s3:::b/AROAY:i-2/k"], context) == IMPLICIT


@pytest.mark.parametrize("condition, context, holds", [
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": False}, False),
    ({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
     {"aws:RequestedRegion": "us-east-1"}, True),
    ({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
     {"aws:RequestedRegion": "us-east-1"}, False),
    ({"StringLike": {"aws:userid": "AROA*:i-*"}}, {"aws:userid": "AROAX:i-1"}, True),
    ({"StringNotLike": {"aws:userid": "AROA*"}}, {"aws:userid": "AROAX:i-1"}, False),
    ({"StringEqualsIgnoreCase": {"aws:RequestedRegion": "US-EAST-1"}},
     {"aws:RequestedRegion": "us-east-1"}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/p-*"}},
     {"aws:PrincipalArn": "arn:aws:iam::1:role/p-ingest"}, True),
    ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
    ({"NumericLessThan": {"aws:EpochTime": "2000000000"}}, {"aws:EpochTime": 1800000000}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
     {"aws:CurrentTime": "2026-11-30T00:00:00+00:00"}, True),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"Null": {"aws:SourceIp": "true"}}, {"aws:SourceIp": "127.0.0.1"}, False),
    # A key the request does not carry: the condition fails, unless ...IfExists.
    ({"StringEquals": {"aws:SourceVpc": "vpc-1"}}, {}, False),
    ({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, {}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["c"]}}, {"aws:TagKeys": ["a", "b"]}, False),
    ({"NoSuchOperator": {"aws:SourceIp": "x"}}, {"aws:SourceIp": "x"}, False),
])
def test_condition_operators(condition, context, holds):
    assert conditions_hold(condition, context) is holds


def test_a_condition_scopes_an_allow_and_a_deny():
    given = [policy(allow("sqs:SendMessage", "*",
                          Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
                    deny("sqs:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}))]
    queue = ["arn:aws:sqs:us-east-1:1:q"]
    assert decision(given, "sqs:SendMessage", queue,
                    {"aws:RequestedRegion": "us-east-1", "aws:SecureTransport": True}) == ALLOW
    assert decision(given, "sqs:SendMessage", queue,
                    {"aws:RequestedRegion": "eu-west-1", "aws:SecureTransport": True}) == IMPLICIT
    assert decision(given, "sqs:SendMessage", queue,
                    {"aws:RequestedRegion": "us-east-1", "aws:SecureTransport": False}) == DENY


def test_trust_policy_principals():
    lambda_trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}
    assert principal_matches(lambda_trust, {"Service": "lambda.amazonaws.com"})
    assert not principal_matches(lambda_trust, {"Service": "ec2.amazonaws.com"})
    assert not principal_matches(lambda_trust, {"AWS": "arn:aws:iam::1:root"})
    account = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}
    assert principal_matches(account, {"AWS": "arn:aws:iam::1:role/x"})
    assert not principal_matches(account, {"AWS": "arn:aws:iam::2:role/x"})
    assert principal_matches({"Principal": "*"}, {"Service": "ec2.amazonaws.com"})


def test_a_boundary_or_session_policy_limits_and_an_explicit_deny_anywhere_decides():
    identity = evaluate([policy(allow("dynamodb:*", "*"))], "dynamodb:Query", [TABLE], {})
    boundary = evaluate([policy(allow("kinesis:*", "*"))], "dynamodb:Query", [TABLE], {},
                        "permissions boundary")
    session = evaluate([policy(deny("*", "*"))], "dynamodb:Query", [TABLE], {}, "session policy")
    assert combine([identity]) == Verdict(ALLOW)
    assert combine([identity, boundary]) == Verdict(IMPLICIT, TABLE, "permissions boundary")
    assert combine([identity, boundary, session]) == Verdict(DENY, TABLE, "session policy")
