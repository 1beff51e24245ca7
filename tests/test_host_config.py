"""What the host is told, checked without a host: the Kinesis Agent's stock agent.json is read
as the real agent reads it (issue 13, item 10), and `generate` on AWS gives its SSM command an
execution timeout from --count and --rate, apart from --wait's --timeout (item 6), recorded by
a real moto server."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from orderhist import aws, remote
from orderhist.agent.config import load_config
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.state import Home, StackState


def stock_agent_json(log_dir) -> dict:
    """The shape of the package's own /etc/aws-kinesis/agent.json: endpoints left "" (unset),
    a Kinesis flow and a Firehose flow (configuration/release/aws-kinesis-agent.json)."""
    return {
        "cloudwatch.emitMetrics": True,
        "kinesis.endpoint": "",
        "firehose.endpoint": "",
        "flows": [
            {"filePattern": f"{log_dir}/app.log*", "kinesisStream": "yourkinesisstream",
             "partitionKeyOption": "RANDOM"},
            {"filePattern": f"{log_dir}/app.log*", "deliveryStream": "yourdeliverystream"},
        ],
    }


def test_empty_endpoint_and_region_mean_not_set(tmp_path):
    config = stock_agent_json(tmp_path)
    config["flows"] = config["flows"][:1]  # orderhist's agent ships to Kinesis only
    config["kinesis.region"] = " "
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(config))
    parsed = load_config(path)
    assert parsed.endpoint is None and parsed.region is None
    config["kinesis.endpoint"] = 7
    path.write_text(json.dumps(config))
    with pytest.raises(UsageProblem, match="kinesis.endpoint"):
        load_config(path)


def test_the_stock_file_is_refused_only_for_its_firehose_flow(tmp_path):
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(stock_agent_json(tmp_path)))
    result = subprocess.run([sys.executable, "-m", "orderhist", "agent", "run", "--config",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "deliveryStream" in result.stderr and "kinesis.endpoint" not in result.stderr


def test_execution_timeout_fits_count_and_rate():
    assert remote.execution_timeout(200, 1.0) >= 200 + remote.START_MARGIN_S
    assert remote.execution_timeout(200, 1.0) > 60  # more than --timeout's default
    assert remote.execution_timeout(10_000, 1.0) > 3600  # AWS-RunShellScript's default
    assert remote.execution_timeout(5_000_000, None) <= remote.MAX_EXECUTION_S
    with pytest.raises(UsageProblem, match="SSM"):
        remote.execution_timeout(200_000, 1.0)  # 2.3 days: past SSM's 48 h


@pytest.fixture
def bare_host(local_target, tmp_path):
    """A state file naming an instance and a bucket, nothing else: all `generate` needs."""
    ec2, s3 = aws.client("ec2", local_target), aws.client("s3", local_target)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    bucket = "t" + uuid.uuid4().hex[:10] + "-artifacts"
    s3.create_bucket(Bucket=bucket)
    home = Home(tmp_path)
    state = StackState.new(home, target=aws.LOCAL, region=local_target.region,
                           endpoint=local_target.endpoint_url, prefix="t",
                           account="123456789012")
    state.record("instance", id=instance["InstanceId"])
    state.record("bucket", id=bucket)
    yield state
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    s3.delete_bucket(Bucket=bucket)


def test_the_ssm_command_carries_an_execution_timeout_from_count_and_rate(bare_host,
                                                                         local_target):
    # moto records the command and runs nothing: no report comes back, which is the error.
    with pytest.raises(OrderhistError, match="left no report"):
        remote.generate_on_host(bare_host, 200, False, 1.0)
    instance = bare_host.resources["instance"]["id"]
    (command,) = aws.client("ssm", local_target).list_commands(InstanceId=instance)["Commands"]
    assert command["Parameters"]["executionTimeout"] == [str(remote.execution_timeout(200, 1.0))]
    assert command["TimeoutSeconds"] == remote.DELIVERY_TIMEOUT_S  # not --wait's --timeout
    line = command["Parameters"]["commands"][0]
    assert "orderhist host-generate --count 200" in line and "--rate 1.0" in line
    assert f"--bucket {bare_host.resources['bucket']['id']}" in line
    assert "--expected-bucket-owner 123456789012" in line
