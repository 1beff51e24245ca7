"""`generate` on the AWS target: run the generator on the EC2 host through SSM Run Command,
then fetch the report of what it wrote (the log lines themselves) from the artifacts bucket,
so `--wait` can follow exactly those lines into the table."""
from __future__ import annotations

import math
import shlex
import time
import uuid

from orderhist import aws, aws_errors, records
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.records import OrderLine
from orderhist.stack import REPORTS_PREFIX
from orderhist.state import StackState

TERMINAL = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}
# AWS-RunShellScript's executionTimeout: the document's ceiling (48 h); its default of one hour
# would kill a long paced run, so every command says how long it may take.
MAX_EXECUTION_S = 172_800
# Start-up (python, the dataset), the report's upload; and an unpaced generator's floor, far
# below what it writes.
START_MARGIN_S = 300
UNPACED_LINES_PER_S = 1_000
# TimeoutSeconds: how long SSM may take to deliver the command to a host that is up.
DELIVERY_TIMEOUT_S = 600
REGISTRATION_WAIT_S = 600


def execution_timeout(count: int, rate: float | None) -> int:
    """Seconds the run on the host may take: the paced duration plus a quarter, plus start-up.
    A run longer than SSM allows is a usage error before anything is sent."""
    paced = count / (rate or UNPACED_LINES_PER_S)
    seconds = math.ceil(paced * 1.25) + START_MARGIN_S
    if seconds > MAX_EXECUTION_S:
        pace = f" at --rate {rate:g}" if rate else ""
        raise UsageProblem(f"--count {count}{pace} takes {paced / 3600:.0f} h, longer than "
                           f"SSM runs a command ({MAX_EXECUTION_S // 3600} h): lower --count "
                           "or raise --rate")
    return seconds


def host_command(count: int, now: bool, rate: float | None, bucket: str, report_key: str,
                 region: str, account: str) -> str:
    """The shell line SSM runs as root on the host. The report goes only to a bucket of this
    account (`--expected-bucket-owner`): the lines are the customers' orders."""
    args = ["orderhist", "host-generate", "--count", str(count),
            "--report", "/tmp/orderhist-report.log"]
    if now:
        args.append("--now")
    if rate:
        args += ["--rate", str(rate)]
    upload = ["aws", "s3api", "put-object", "--region", region, "--bucket", bucket,
              "--key", report_key, "--body", "/tmp/orderhist-report.log",
              "--expected-bucket-owner", account]
    return (f"set -euo pipefail; {shlex.join(args)}; {shlex.join(upload)} >/dev/null; "
            f"rm -f /tmp/orderhist-report.log")


def generate_on_host(state: StackState, count: int, now: bool,
                     rate: float | None) -> list[OrderLine]:
    """Run the generator on the host and return the lines it wrote. The run is bounded by its
    execution timeout, from count and rate (--timeout bounds only --wait's follow)."""
    target = state.target()
    instance = state.resource_id("instance")
    bucket = state.resource_id("bucket")
    if not instance or not bucket:
        raise OrderhistError("the stack has no host: run `orderhist up` to repair it")
    running = execution_timeout(count, rate)
    report_key = f"{REPORTS_PREFIX}/{uuid.uuid4().hex}.log"
    ssm = aws.client("ssm", target)
    account = state.account or \
        aws.client("sts", target).get_caller_identity()["Account"]
    commands = [host_command(count, now, rate, bucket, report_key, state.region,
                             account)]
    command = _send_when_registered(ssm, instance, commands, count, running)
    status = _wait_for_command(ssm, command, instance, DELIVERY_TIMEOUT_S + running)
    if status["Status"] != "Success":
        detail = (status.get("StandardErrorContent") or "").strip().splitlines()[-1:]
        raise OrderhistError(f"the generator on {instance} ended {status['Status']}"
                             + (f": {detail[0]}" if detail else ""))
    s3 = aws.client("s3", target)
    try:
        body = s3.get_object(Bucket=bucket, Key=report_key,
                             ExpectedBucketOwner=account)["Body"].read().decode("utf-8")
    except Exception:
        raise OrderhistError(
            f"the host ran the generator (command {command}) but left no report at "
            f"s3://{bucket}/{report_key}; see /var/log/orderhist-setup.log on {instance}") from None
    s3.delete_object(Bucket=bucket, Key=report_key, ExpectedBucketOwner=account)
    try:
        return [records.parse_log_line(text) for text in body.splitlines() if text.strip()]
    except records.RecordError as error:  # the tool's own report: a failure, not bad input
        raise OrderhistError(f"the host's report s3://{bucket}/{report_key} holds a line that "
                             f"is not an order line: {error}") from None


def _send_when_registered(ssm, instance: str, commands: list[str], count: int,
                          running: int) -> str:
    """A host that has just booted is not yet known to SSM (InvalidInstanceId) until its
    agent registers and user data has run: keep asking for a few minutes."""
    deadline = time.monotonic() + REGISTRATION_WAIT_S
    while True:
        try:
            return ssm.send_command(
                InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                Comment=f"orderhist generate --count {count}",
                TimeoutSeconds=DELIVERY_TIMEOUT_S,
                Parameters={"commands": commands, "executionTimeout": [str(running)]},
            )["Command"]["CommandId"]
        except Exception as error:
            if aws_errors.kind(error) != aws_errors.NOT_READY or time.monotonic() > deadline:
                raise
            time.sleep(5.0)


def _wait_for_command(ssm, command: str, instance: str, timeout: float) -> dict:
    # SSM ends the run itself (TimedOut) when its own timeouts pass; this bound is only
    # against an SSM that never answers.
    deadline = time.monotonic() + timeout + 30
    while True:
        try:
            status = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
        except Exception as error:  # not yet registered: AWS answers InvocationDoesNotExist
            if aws_errors.kind(error) != aws_errors.NOT_READY:
                raise
            status = {"Status": "Pending"}
        if status["Status"] in TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise OrderhistError(f"the generator on {instance} did not finish in time "
                                 f"(command {command})")
        time.sleep(1.0)


def run_on_host(state: StackState, commands: list[str], comment: str,
                timeout: int = 60) -> str:
    """A short shell script on the host through SSM (as `orderhist logs` reads the host's
    logs): its standard output, which SSM cuts at 24,000 characters."""
    instance = state.resource_id("instance")
    if not instance:
        raise OrderhistError("the stack has no host: run `orderhist up` to repair it")
    ssm = aws.client("ssm", state.target())
    command = ssm.send_command(
        InstanceIds=[instance], DocumentName="AWS-RunShellScript", Comment=comment,
        TimeoutSeconds=DELIVERY_TIMEOUT_S,
        Parameters={"commands": commands, "executionTimeout": [str(timeout)]},
    )["Command"]["CommandId"]
    status = _wait_for_command(ssm, command, instance, timeout)
    return status.get("StandardOutputContent") or ""
