"""What an AWS error means, decided in one place: by its code first, its message second.

Every service names its errors differently (IAM `NoSuchEntity`, SQS
`AWS.SimpleQueueService.NonExistentQueue`, S3 a bare `404`), and a few generic codes
(`InvalidParameterValue`, `InvalidParameterValueException`) carry several meanings that only
their message tells apart. The codes and messages below are AWS's own, each with where it was
read; callers ask `kind(error)` (or one of the `is_...` helpers) and never match codes or
text themselves (tests/test_error_family.py holds every other module to that). `code(error)`
is for telling a person which error it was, never for deciding.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MISSING = "missing"            # does not exist: a find finds nothing, a delete is done
THROTTLED = "throttled"        # too many requests: slow down and try again
PROPAGATING = "propagating"    # a role or instance profile just made or changed is not yet
                               # visible to the service that uses it (IAM is eventually consistent)
DENIED = "denied"              # the caller may not do this
COOLING_DOWN = "cooling down"  # the name of something just deleted cannot be reused yet
ALREADY_EXISTS = "already exists"  # a create of what is there already (and is the caller's)
TAKEN = "taken"                # the name belongs to someone else (an S3 bucket of another account)
# busy: being created or deleted, or there already (DynamoDB, Kinesis)
IN_USE = "in use"
EXPIRED = "expired"            # a Kinesis shard iterator older than 5 minutes
INVALID = "invalid"            # the request itself is wrong (a value, a sequence number past
                               # the stream's retention)
BAD_CREDENTIALS = "bad credentials"  # the signing key is not one the service knows
NOT_READY = "not ready"        # SSM: a host not registered yet, a command not yet listed
UNSUPPORTED = "unsupported"    # what was asked for is not offered here (an EC2 instance type)


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
        "403", "Forbidden",        # S3 HEAD (no body to name the code)
    }),
    # SQS CreateQueue within 60 s of DeleteQueue of that name: "You must wait 60 seconds after
    # deleting a queue before you can create another queue with the same name." (botocore's
    # sqs service model, shape QueueDeletedRecently; the query-compatible code is prefixed).
    COOLING_DOWN: frozenset({"AWS.SimpleQueueService.QueueDeletedRecently",
                             "QueueDeletedRecently"}),
    ALREADY_EXISTS: frozenset({
        "EntityAlreadyExists",             # IAM
        "ResourceAlreadyExistsException",  # Logs (the function's first write made the group)
        "BucketAlreadyOwnedByYou",         # S3, outside us-east-1
    }),
    TAKEN: frozenset({"BucketAlreadyExists"}),  # S3: bucket names are global
    IN_USE: frozenset({"ResourceInUseException"}),  # DynamoDB, Kinesis
    EXPIRED: frozenset({"ExpiredIteratorException"}),  # Kinesis GetRecords
    INVALID: frozenset({
        "ValidationException",       # DynamoDB and most JSON services
        "InvalidArgumentException",  # Kinesis (e.g. a sequence number already trimmed)
    }),
    BAD_CREDENTIALS: frozenset({"UnrecognizedClientException"}),
    # SSM SendCommand to an instance whose agent has not registered, GetCommandInvocation
    # right after SendCommand: both are answered properly a few seconds later.
    NOT_READY: frozenset({"InvalidInstanceId", "InvocationDoesNotExist"}),
    UNSUPPORTED: frozenset({"InvalidInstanceType"}),  # EC2 DescribeInstanceTypes
}

# Service-specific not-found codes follow a pattern (EC2's `InvalidVpcID.NotFound`, ...).
_MISSING_CODE = re.compile(r"(^|\.)NotFound$|NotFoundException$|^NoSuch")
# Without any code (an error botocore did not parse) only the words remain.
_MISSING_TEXT = re.compile(r"not found|does not exist|cannot be found", re.IGNORECASE)


def _reply(error: BaseException) -> dict[str, Any] | None:
    # A ClientError has `response`; a botocore WaiterError keeps the last reply it saw.
    response = getattr(error, "response", None) or getattr(error, "last_response", None)
    return response if isinstance(response, dict) else None


def _error(error: BaseException) -> dict[str, Any]:
    found: dict[str, Any] = (_reply(error) or {}).get("Error", {})  # as botocore parsed it
    return found


def code(error: BaseException) -> str:
    return str(_error(error).get("Code") or "")


def message(error: BaseException) -> str:
    return str(_error(error).get("Message") or error)


def describe(error: BaseException) -> str:
    """One line naming the error for a person: AWS's code and message for an AWS reply, the
    class and the first line of its text otherwise."""
    found = _error(error)
    if found:
        return f"{found.get('Code', type(error).__name__)}: {found.get('Message', '')}".strip()
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


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
    # Only an AWS reply's words: the tool's own errors ("HTTP Error 404: Not Found" fetching a
    # function's code) say nothing about a resource.
    return MISSING if _reply(error) is not None and _MISSING_TEXT.search(text) else None


def is_missing(error: BaseException) -> bool:
    return kind(error) == MISSING


def is_propagating(error: BaseException) -> bool:
    return kind(error) == PROPAGATING


def no_credentials(error: BaseException) -> bool:
    """Whether botocore found no credentials (or only half of a key pair) to sign with."""
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    return isinstance(error, NoCredentialsError | PartialCredentialsError)


def unreachable(error: BaseException) -> bool:
    """Whether `error` is botocore failing to reach the endpoint at all (nothing listening,
    the connection closed mid-reply), as opposed to an answer from it."""
    # Imported here: most callers never get this far, and botocore costs an import.
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

    return type(error) in (EndpointConnectionError, ConnectionClosedError)
