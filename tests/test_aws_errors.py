"""AWS errors are known by their codes first and their messages second, in one place
(`orderhist.aws_errors`), and the calls that follow a new role or instance profile are retried
while IAM propagates. Every error here is a real botocore ClientError, parsed by botocore from
AWS's own error bytes served by a proxy in front of the moto server."""
from __future__ import annotations

import time

import pytest

from helpers.aws_faults import FaultProxy, ec2_error, json_error, query_error, rest_json_error
from orderhist import aws, aws_errors, stack
from orderhist.function import build
from orderhist.resources import Names, Settings, StackContext, retry_while_propagating
from orderhist.state import Home, StackState

PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/t-us-east-1-host"
RUN_INSTANCES_PROPAGATING = (  # aws/aws-sdk-js-v3#5253, with the ARN form of the parameter
    f"Value ({PROFILE_ARN}) for parameter iamInstanceProfile.arn is invalid. "
    "Invalid IAM Instance Profile ARN")
LAMBDA_ROLE_PROPAGATING = "The role defined for the function cannot be assumed by Lambda."
MAPPING_PROPAGATING = (
    "Cannot access stream arn:aws:kinesis:us-east-1:123456789012:stream/t-orders. Please ensure "
    "the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams "
    "Actions on your stream in IAM.")
ONE_TRY = {"retries": {"total_max_attempts": 1, "mode": "standard"}}


def proxied(proxy, service: str, region: str = "us-east-1"):
    return aws.client(service, aws.Target(aws.LOCAL, region, proxy.url), **ONE_TRY)


def raised(call) -> Exception:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_each_kind_is_known_from_what_aws_sends(local_target):
    faults = [
        ec2_error("RunInstances", "InvalidParameterValue", RUN_INSTANCES_PROPAGATING),
        ec2_error("DescribeInstances", "InvalidParameterValue",
                  "Value (t9.huge) for parameter instanceType is invalid."),
        ec2_error("TerminateInstances", "InvalidInstanceID.NotFound",
                  "The instance ID 'i-0123456789abcdef0' does not exist"),
        rest_json_error("lambda", "CreateFunction", "InvalidParameterValueException",
                        LAMBDA_ROLE_PROPAGATING),
        rest_json_error("lambda", "CreateEventSourceMapping", "InvalidParameterValueException",
                        MAPPING_PROPAGATING),
        rest_json_error("lambda", "UpdateFunctionConfiguration", "TooManyRequestsException",
                        "Rate exceeded", status=429),
        query_error("iam", "GetRole", "NoSuchEntity",
                    "The role with name t-us-east-1-ingest cannot be found.", status=404),
        query_error("iam", "CreateRole", "AccessDenied",
                    "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
                    "iam:CreateRole on resource: arn:aws:iam::123456789012:role/x", status=403),
        json_error("sqs", "CreateQueue", "QueueDeletedRecently",
                   "You must wait 60 seconds after deleting a queue before you can create "
                   "another queue with the same name.",
                   query_code="AWS.SimpleQueueService.QueueDeletedRecently"),
    ]
    with FaultProxy(local_target.endpoint_url, faults) as proxy:
        ec2, lam = proxied(proxy, "ec2"), proxied(proxy, "lambda")
        iam, sqs = proxied(proxy, "iam"), proxied(proxy, "sqs")
        kinds = {
            "profile": raised(lambda: ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                IamInstanceProfile={"Arn": PROFILE_ARN})),
            "bad value": raised(lambda: ec2.describe_instances()),
            "gone instance": raised(lambda: ec2.terminate_instances(
                InstanceIds=["i-0123456789abcdef0"])),
            "role": raised(lambda: lam.create_function(
                FunctionName="f", Role="arn:aws:iam::123456789012:role/r", Runtime="python3.12",
                Handler="h.h", Code={"ZipFile": b"PK"})),
            "mapping": raised(lambda: lam.create_event_source_mapping(
                EventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/t-orders",
                FunctionName="f", StartingPosition="TRIM_HORIZON")),
            "rate": raised(lambda: lam.update_function_configuration(FunctionName="f",
                                                                      Timeout=3)),
            "no role": raised(lambda: iam.get_role(RoleName="t-us-east-1-ingest")),
            "denied": raised(lambda: iam.create_role(RoleName="x",
                                                     AssumeRolePolicyDocument="{}")),
            "queue name": raised(lambda: sqs.create_queue(QueueName="t-rejects")),
        }
    assert {name: aws_errors.kind(error) for name, error in kinds.items()} == {
        "profile": aws_errors.PROPAGATING,
        "bad value": None,  # the same code, another meaning: not to be retried
        "gone instance": aws_errors.MISSING,
        "role": aws_errors.PROPAGATING,
        "mapping": aws_errors.PROPAGATING,
        "rate": aws_errors.THROTTLED,
        "no role": aws_errors.MISSING,
        "denied": aws_errors.DENIED,
        "queue name": aws_errors.COOLING_DOWN,
    }
    assert aws_errors.code(kinds["queue name"]) == "AWS.SimpleQueueService.QueueDeletedRecently"


def test_run_instances_is_retried_while_the_profile_propagates(local_target, unique_name):
    iam = aws.client("iam", local_target)
    profile = iam.create_instance_profile(InstanceProfileName=unique_name)["InstanceProfile"]
    fault = ec2_error("RunInstances", "InvalidParameterValue",
                      RUN_INSTANCES_PROPAGATING.replace(PROFILE_ARN, profile["Arn"]), times=3)
    with FaultProxy(local_target.endpoint_url, [fault]) as proxy:
        ec2 = proxied(proxy, "ec2")
        image = proxied(proxy, "ssm").get_parameter(
            Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
        )["Parameter"]["Value"]
        started = time.monotonic()
        reply = retry_while_propagating(lambda: ec2.run_instances(
            ImageId=image, InstanceType="t4g.small", MinCount=1, MaxCount=1,
            IamInstanceProfile={"Arn": profile["Arn"]}), first_pause=0.05)
    assert fault.seen == 4 and reply["Instances"][0]["InstanceId"].startswith("i-")
    assert time.monotonic() - started < 10
    aws.client("ec2", local_target).terminate_instances(
        InstanceIds=[reply["Instances"][0]["InstanceId"]])
    iam.delete_instance_profile(InstanceProfileName=unique_name)


def test_other_errors_and_the_last_refusal_are_raised(local_target):
    other = ec2_error("RunInstances", "InvalidParameterValue",
                      "Value (t9.huge) for parameter instanceType is invalid.", times=5)
    with FaultProxy(local_target.endpoint_url, [other]) as proxy:
        ec2 = proxied(proxy, "ec2")
        error = raised(lambda: retry_while_propagating(
            lambda: ec2.run_instances(ImageId="ami-1", MinCount=1, MaxCount=1),
            first_pause=0.05))
    assert other.seen == 1 and "instanceType" in str(error)  # not retried

    endless = ec2_error("RunInstances", "InvalidParameterValue", RUN_INSTANCES_PROPAGATING,
                        times=1000)
    with FaultProxy(local_target.endpoint_url, [endless]) as proxy:
        ec2 = proxied(proxy, "ec2")
        started = time.monotonic()
        error = raised(lambda: retry_while_propagating(
            lambda: ec2.run_instances(ImageId="ami-1", MinCount=1, MaxCount=1),
            timeout=1.0, first_pause=0.1, max_pause=0.2))
    assert aws_errors.is_propagating(error) and time.monotonic() - started < 3
    assert 3 <= endless.seen <= 12


def test_a_first_apply_rides_out_every_propagation_error(local_target, unique_name, tmp_path):
    """The whole plan, created at once as on a fresh account: EC2 and Lambda refuse the new
    profile and role a few times each, and `apply` still builds everything."""
    faults = [
        ec2_error("RunInstances", "InvalidParameterValue", RUN_INSTANCES_PROPAGATING, times=2),
        rest_json_error("lambda", "CreateFunction", "InvalidParameterValueException",
                        LAMBDA_ROLE_PROPAGATING, times=2),
        rest_json_error("lambda", "CreateEventSourceMapping", "InvalidParameterValueException",
                        MAPPING_PROPAGATING, times=2),
    ]
    account = aws.client("sts", local_target).get_caller_identity()["Account"]
    state = StackState.new(Home(tmp_path), target="local")
    with FaultProxy(local_target.endpoint_url, faults) as proxy:
        target = aws.Target(aws.LOCAL, local_target.region, proxy.url)
        ctx = StackContext(target, Names(unique_name, account, target.region), Settings())
        try:
            steps = stack.apply(ctx, state)
        finally:
            cleanup = StackContext(local_target, Names(unique_name, account,
                                                       local_target.region), Settings())
            recorded = dict(state.resources)
            stack.destroy(cleanup, state)
    assert [fault.seen for fault in faults] == [3, 3, 3]
    assert [step.resource for step in steps] == [r.name for r in stack.plan()]
    assert {"instance", "function", "mapping"} <= set(recorded)
    assert build.code_sha256(build.build_zip()) == recorded["function"]["code_sha256"]


@pytest.mark.slow
def test_a_first_up_on_aws_succeeds_while_ec2_refuses_the_new_profile(local_target, unique_name,
                                                                      tmp_path):
    from helpers.aws_target import run_aws, up_args

    fault = ec2_error("RunInstances", "InvalidParameterValue", RUN_INSTANCES_PROPAGATING,
                      times=3)
    with FaultProxy(local_target.endpoint_url, [fault]) as proxy:
        result = run_aws(tmp_path, proxy.url, *up_args(proxy.url, unique_name))
        removed = run_aws(tmp_path, proxy.url, "down", "--yes")
    assert result.returncode == 0, result.stderr
    assert fault.seen == 4
    assert removed.returncode == 0, removed.stderr
