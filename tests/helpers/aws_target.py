"""The AWS target against the emulator standing in for AWS through --endpoint-url."""
from __future__ import annotations

from helpers.cli import run_cli
from orderhist import aws


def run_aws(home, endpoint, *args, stdin=None, timeout=180):
    """The CLI with the standard credential chain, as a user of the aws target has it (here:
    dummies). `endpoint` is the caller's to pass in args (see up_args)."""
    return run_cli(home, *args, aws_env="dummies", timeout=timeout, input=stdin)


def up_args(endpoint, prefix, *more):
    return ["up", "--target", "aws", "--endpoint-url", endpoint, "--prefix", prefix, *more]


def snapshot(target, prefix: str) -> dict:
    """Everything of the account whose name carries the prefix."""
    def mine(names):
        return sorted(n for n in names if prefix in n)

    iam, ec2 = aws.client("iam", target), aws.client("ec2", target)
    instances = ec2.describe_instances(Filters=[
        {"Name": "tag:orderhist:stack", "Values": [prefix]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ])["Reservations"]
    return {
        "roles": mine(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "profiles": mine(p["InstanceProfileName"]
                         for p in iam.list_instance_profiles()["InstanceProfiles"]),
        "streams": mine(aws.client("kinesis", target).list_streams()["StreamNames"]),
        "tables": mine(aws.client("dynamodb", target).list_tables()["TableNames"]),
        "queues": mine(aws.client("sqs", target).list_queues().get("QueueUrls", [])),
        "buckets": mine(b["Name"] for b in aws.client("s3", target).list_buckets()["Buckets"]),
        "functions": mine(f["FunctionName"]
                          for f in aws.client("lambda", target).list_functions()["Functions"]),
        "mappings": mine(m["FunctionArn"] for m in aws.client("lambda", target)
                         .list_event_source_mappings()["EventSourceMappings"]),
        "groups": mine(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]),
        "instances": [i["InstanceId"] for r in instances for i in r["Instances"]],
    }


def empty(snap: dict) -> bool:
    return not any(snap.values())
