"""The AWS target, against a moto server standing in for AWS through --endpoint-url: a dry
run changes nothing, `up` builds a least-privilege, encrypted stack with a locked-down host,
`down --yes` (even after a crashed `up`) leaves nothing of the stack behind."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import unquote

import pytest

from helpers.aws_target import empty, run_aws, snapshot, up_args
from orderhist import aws, hostsetup

DATA_SERVICES = ("kinesis:", "dynamodb:", "sqs:", "s3:")


def test_dry_run_leaves_the_account_as_it_was(local_target, unique_name, tmp_path):
    before = snapshot(local_target, unique_name)
    result = run_aws(tmp_path, local_target.endpoint_url,
                     *up_args(local_target.endpoint_url, unique_name, "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert "would create" in result.stdout
    assert snapshot(local_target, unique_name) == before
    assert not (tmp_path / "state.json").exists()


@pytest.mark.slow
def test_up_builds_a_locked_down_stack_and_down_removes_it(local_target, unique_name, tmp_path):
    endpoint = local_target.endpoint_url
    result = run_aws(tmp_path, endpoint, *up_args(endpoint, unique_name, "--agent",
                                                   "kinesis-agent"))
    assert result.returncode == 0, result.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["target"] == "aws" and state["settings"]["agent"] == "kinesis-agent"
    resources = state["resources"]

    iam = aws.client("iam", local_target)
    for role in (resources["ingest_role"]["id"], resources["host_role"]["id"]):
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            document = json.loads(unquote(document)) if isinstance(document, str) else document
            for statement in document["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = [statement["Action"]] if isinstance(statement["Action"], str) \
                    else statement["Action"]
                assert not any("*" in action for action in actions), statement
                if statement["Resource"] == "*":
                    assert not any(a.startswith(DATA_SERVICES) for a in actions), statement
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []

    ec2 = aws.client("ec2", local_target)
    instance = ec2.describe_instances(InstanceIds=[resources["instance"]["id"]])
    instance = instance["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"] == resources["host_profile"]["arn"]
    group = ec2.describe_security_groups(GroupIds=[resources["security_group"]["id"]])
    assert group["SecurityGroups"][0]["IpPermissions"] == []
    volumes = ec2.describe_volumes(Filters=[
        {"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])["Volumes"]
    assert volumes and all(volume["Encrypted"] for volume in volumes)
    user_data = base64.b64decode(ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData")["UserData"]["Value"]).decode()
    assert "dnf install -y aws-kinesis-agent" in user_data
    assert "groupadd --system aws-kinesis-agent-user" in user_data
    for secret in ("AKIA", "aws_secret_access_key", "awsAccessKeyId", "awsSecretAccessKey",
                   "testing"):
        assert secret not in user_data

    s3 = aws.client("s3", local_target)
    bucket = resources["bucket"]["id"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    config = json.loads(s3.get_object(Bucket=bucket, Key=hostsetup.AGENT_CONFIG_KEY)["Body"].read())
    assert "awsAccessKeyId" not in config
    assert config["flows"][0]["kinesisStream"].startswith(unique_name)
    assert "dataProcessingOptions" not in config["flows"][0]  # the Java CSVTOJSON breaks quotes
    summary = aws.client("kinesis", local_target).describe_stream_summary(
        StreamName=resources["stream"]["id"])["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "KMS"
    table = aws.client("dynamodb", local_target).describe_table(
        TableName=resources["table"]["id"])["Table"]
    assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
    queue = aws.client("sqs", local_target).get_queue_attributes(
        QueueUrl=resources["queue"]["id"], AttributeNames=["All"])["Attributes"]
    assert queue["SqsManagedSseEnabled"] == "true"
    mapping = aws.client("lambda", local_target).get_event_source_mapping(
        UUID=resources["mapping"]["id"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == resources["queue"]["arn"]

    # generate runs on the host through SSM (moto records the command but runs nothing).
    generated = run_aws(tmp_path, endpoint, "generate", "--count", "5")
    assert generated.returncode == 1 and "left no report" in generated.stderr
    commands = aws.client("ssm", local_target).list_commands(
        InstanceId=instance["InstanceId"])["Commands"]
    assert any("orderhist host-generate --count 5" in c["Parameters"]["commands"][0]
               for c in commands)

    refused = run_aws(tmp_path, endpoint, "down", stdin="n\n")
    assert refused.returncode == 1 and snapshot(local_target, unique_name)["tables"]
    removed = run_aws(tmp_path, endpoint, "down", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert empty(snapshot(local_target, unique_name)), snapshot(local_target, unique_name)


@pytest.mark.slow
def test_down_after_a_crashed_up_leaves_nothing(local_target, unique_name, tmp_path):
    endpoint = local_target.endpoint_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    crashing = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(tmp_path),
         *up_args(endpoint, unique_name)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    recorded = {}
    while time.monotonic() < deadline and len(recorded) < 3:
        try:
            recorded = json.loads((tmp_path / "state.json").read_text()).get("resources", {})
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    crashing.send_signal(signal.SIGKILL)  # dies on (or about) its fourth resource
    crashing.wait()
    assert 3 <= len(recorded) < 12
    removed = run_aws(tmp_path, endpoint, "down", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert empty(snapshot(local_target, unique_name)), snapshot(local_target, unique_name)


@pytest.mark.parametrize("agent", hostsetup.AGENTS)
def test_user_data_passes_bash_n_and_shellcheck(agent, tmp_path):
    script = tmp_path / "user-data.sh"
    script.write_text(hostsetup.user_data(agent, bucket="p-artifacts-1-us-east-1",
                                          region="us-east-1"))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs Debian's package)")
    checked = subprocess.run(["shellcheck", "-s", "bash", str(script)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout
