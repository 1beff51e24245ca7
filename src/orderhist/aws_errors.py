"""What an AWS error means, decided in one place: by its code first, its message second.

Every service names its errors differently (IAM `NoSuchEntity`, SQS
`AWS.SimpleQueueService.NonExistentQueue`, S3 a bare `404`), and a few generic codes
(`InvalidParameterValue`, `InvalidParameterValueException`) carry several meanings that only
their message tells apart. The codes and messages below are AWS's own, each with where it was
read; callers ask `kind(error)` (or one of the `is_...` helpers) and never match text
themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MISSING = "missing"            # does not exist: a find finds nothing, a delete is done
THROTTLED = "throttled"        # too many requests: slow down and try again
PROPAGATING = "propagating"    # a role or instance profile just made or changed is not yet
                               # visible to the service that uses it (IAM is eventually consistent)
DENIED = "denied"              # the caller may not do this
COOLING_DOWN = "cooling down"  # the name of something just deleted cannot be reused yet


@dataclass(frozen=True)
class Rule:
    """A generic code that means `kind` when its message matches `pattern` (case-insensitive)."""

    code: str
    pattern: str
    kind: str
    source: str


# Generic codes, told apart by their message. The one place message text decides.
RULES = (
    # EC2 RunInstances (and AssociateIamInstanceProfile) right after CreateInstanceProfile /
    # AddRoleToInstanceProfile: "Value (arn:aws:iam::…:instance-profile/x) for parameter
    # iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN" (".name … Invalid IAM
    # Instance Profile name" when given by name). Reported in aws/aws-sdk-js-v3#5253 and
    # hashicorp/terraform#1885/#2037 (whose provider retries on "Invalid IAM Instance Profile").
    Rule("InvalidParameterValue", r"Invalid IAM Instance Profile|iamInstanceProfile\.(arn|name)",
         PROPAGATING, "EC2 RunInstances; terraform-provider-aws instance.go"),
    # EC2 RunInstances with a profile whose role is not yet attached everywhere: "… has no
    # associated IAM Roles" (retried by terraform-provider-aws, hashicorp/terraform#8516).
    Rule("InvalidParameterValue", r"has no associated IAM Roles", PROPAGATING,
         "EC2 RunInstances; hashicorp/terraform#8516"),
    # Lambda CreateFunction / UpdateFunctionConfiguration with a role just made: "The role
    # defined for the function cannot be assumed by Lambda." (terraform-provider-aws
    # lambda/function.go and event_source_mapping.go retry on "cannot be assumed by Lambda").
    Rule("InvalidParameterValueException", r"cannot be assumed by Lambda", PROPAGATING,
         "Lambda CreateFunction; terraform-provider-aws lambda/function.go"),
    # Lambda CreateEventSourceMapping / UpdateEventSourceMapping before the role's policy has
    # propagated: "Cannot access stream arn:aws:kinesis:…. Please ensure the role can perform
    # the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in
    # IAM." (alertlogic/cwe-collector#2, aws-amplify/amplify-cli#12965), and for the OnFailure
    # queue "The provided execution role does not have permissions to call SendMessage on SQS".
    # terraform-provider-aws lambda/event_source_mapping.go retries on both texts.
    Rule("InvalidParameterValueException", r"Cannot access stream|ensure the role can perform",
         PROPAGATING, "Lambda CreateEventSourceMapping; terraform event_source_mapping.go"),
    Rule("InvalidParameterValueException", r"execution role does not have permissions",
         PROPAGATING, "Lambda CreateEventSourceMapping; terraform event_source_mapping.go"),
)

# Codes that mean one thing whatever the service and message.
CODES = {
    MISSING: frozenset({
        "ResourceNotFoundException",                # Lambda, Kinesis, DynamoDB, Logs
        "NoSuchEntity",                             # IAM
        "NoSuchBucket", "NoSuchKey", "404", "NotFound",  # S3 (HEAD answers carry no body)
        "AWS.SimpleQueueService.NonExistentQueue",  # SQS, query-compatible code
        "QueueDoesNotExist",                        # SQS, JSON protocol code
        "InvalidGroup.NotFound", "InvalidInstanceID.NotFound",  # EC2
        "ParameterNotFound",                        # SSM
    }),
    # botocore/retries/standard.py ThrottlingErrorDetector._THROTTLED_ERROR_CODES
    THROTTLED: frozenset({
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    }),
    DENIED: frozenset({
        "AccessDenied",            # IAM, S3, SQS (query-compatible)
        "AccessDeniedException",   # Lambda, Kinesis, DynamoDB, SSM, Logs
        "UnauthorizedOperation",   # EC2
        "403",                     # S3 HEAD (no body to name the code)
    }),
    # SQS CreateQueue within 60 s of DeleteQueue of that name: "You must wait 60 seconds after
    # deleting a queue before you can create another queue with the same name." (botocore's
    # sqs service model, shape QueueDeletedRecently; the query-compatible code is prefixed).
    COOLING_DOWN: frozenset({"AWS.SimpleQueueService.QueueDeletedRecently",
                             "QueueDeletedRecently"}),
}

# Service-specific not-found codes follow a pattern (EC2's `InvalidVpcID.NotFound`, ...).
_MISSING_CODE = re.compile(r"(^|\.)NotFound$|NotFoundException$|^NoSuch")
# Without any code (an error botocore did not parse) only the words remain.
_MISSING_TEXT = re.compile(r"not found|does not exist|cannot be found", re.IGNORECASE)


def _error(error: BaseException) -> dict:
    # A ClientError has `response`; a botocore WaiterError keeps the last reply it saw.
    response = getattr(error, "response", None) or getattr(error, "last_response", None) or {}
    return response.get("Error", {}) if isinstance(response, dict) else {}


def code(error: BaseException) -> str:
    return str(_error(error).get("Code") or "")


def message(error: BaseException) -> str:
    return str(_error(error).get("Message") or error)


def kind(error: BaseException) -> str | None:
    """One of the kinds above, or None for an error that is none of them."""
    found, text = code(error), message(error)
    for rule in RULES:
        if found == rule.code and re.search(rule.pattern, text, re.IGNORECASE):
            return rule.kind
    for name, codes in CODES.items():
        if found in codes:
            return name
    if found:
        return MISSING if _MISSING_CODE.search(found) else None
    return MISSING if _MISSING_TEXT.search(text) else None


def is_missing(error: BaseException) -> bool:
    return kind(error) == MISSING


def is_propagating(error: BaseException) -> bool:
    return kind(error) == PROPAGATING
