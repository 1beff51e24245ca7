"""`generate` on the AWS target: run the generator on the EC2 host through SSM Run Command,
then fetch the report of what it wrote (the log lines themselves) from the artifacts bucket,
so `--wait` can follow exactly those lines into the table."""
from __future__ import annotations

import shlex
import time
import uuid

from orderhist import aws, records
from orderhist.errors import OrderhistError
from orderhist.records import OrderLine
from orderhist.stack import REPORTS_PREFIX
from orderhist.state import StackState

TERMINAL = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}


def host_command(count: int, now: bool, rate: float | None, bucket: str, report_key: str,
                 region: str) -> str:
    args = ["orderhist", "host-generate", "--count", str(count), "--report", "/tmp/orderhist-report.log"]
    if now:
        args.append("--now")
    if rate:
        args += ["--rate", str(rate)]
    return (f"set -euo pipefail; {shlex.join(args)}; "
            f"aws s3 cp --region {shlex.quote(region)} /tmp/orderhist-report.log "
            f"{shlex.quote(f's3://{bucket}/{report_key}')}; "
            f"rm -f /tmp/orderhist-report.log")


def generate_on_host(state: StackState, count: int, now: bool, rate: float | None,
                     timeout: float) -> list[OrderLine]:
    target = state.target()
    instance = state.resources.get("instance", {}).get("id")
    bucket = state.resources.get("bucket", {}).get("id")
    if not instance or not bucket:
        raise OrderhistError("the stack has no host: run `orderhist up` to repair it")
    report_key = f"{REPORTS_PREFIX}/{uuid.uuid4().hex}.log"
    ssm = aws.client("ssm", target)
    commands = [host_command(count, now, rate, bucket, report_key, state.get("region"))]
    command = _send_when_registered(ssm, instance, commands, count, timeout)
    status = _wait_for_command(ssm, command, instance, timeout)
    if status["Status"] != "Success":
        detail = (status.get("StandardErrorContent") or "").strip().splitlines()[-1:]
        raise OrderhistError(f"the generator on {instance} ended {status['Status']}"
                             + (f": {detail[0]}" if detail else ""))
    s3 = aws.client("s3", target)
    try:
        body = s3.get_object(Bucket=bucket, Key=report_key)["Body"].read().decode("utf-8")
    except Exception:
        raise OrderhistError(
            f"the host ran the generator (command {command}) but left no report at "
            f"s3://{bucket}/{report_key}; see /var/log/orderhist-setup.log on {instance}") from None
    s3.delete_object(Bucket=bucket, Key=report_key)
    return [records.parse_log_line(text) for text in body.splitlines() if text.strip()]


def _send_when_registered(ssm, instance: str, commands: list[str], count: int,
                          timeout: float) -> str:
    """A host that has just booted is not yet known to SSM (InvalidInstanceId) until its
    agent registers and user data has run: keep asking for a few minutes."""
    deadline = time.monotonic() + max(timeout, 600)
    while True:
        try:
            return ssm.send_command(
                InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                Comment=f"orderhist generate --count {count}",
                TimeoutSeconds=max(30, int(timeout)),
                Parameters={"commands": commands})["Command"]["CommandId"]
        except Exception as error:
            if aws.error_code(error) != "InvalidInstanceId" or time.monotonic() > deadline:
                raise
            time.sleep(5.0)


def _wait_for_command(ssm, command: str, instance: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout + 30
    while True:
        try:
            status = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
        except Exception as error:  # not yet registered: AWS answers InvocationDoesNotExist
            if aws.error_code(error) != "InvocationDoesNotExist":
                raise
            status = {"Status": "Pending"}
        if status["Status"] in TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise OrderhistError(f"the generator on {instance} did not finish in time "
                                 f"(command {command})")
        time.sleep(1.0)
