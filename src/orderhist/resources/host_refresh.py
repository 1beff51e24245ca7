"""Bringing a running host to new artifacts (orderhist's code, the dataset, agent.json)
without replacing it: its first-boot script, run again through SSM Run Command, then its
agent restarted.

Why not replace the host for these: a new host starts with empty log files, a generator back
at line 1 and an agent without checkpoints, and takes minutes to boot; the set-up script is
idempotent (it fetches the artifacts again and rewrites what it installs), so running it
again takes seconds and keeps all of that. A change of agent or instance type replaces the
host instead (see host.Instance.replacement)."""
from __future__ import annotations

import base64
import hashlib
import time

from orderhist import aws_errors, hostsetup
from orderhist.errors import OrderhistError

SETUP_TAG = "orderhist:setup"
AGENT_TAG = "orderhist:agent"
# Each artifact as the words `up --dry-run` uses for it.
WHAT = {hostsetup.CODE_KEY: "code", hostsetup.DATASET_KEY: "dataset",
        hostsetup.AGENT_CONFIG_KEY: "agent config"}
UNITS = {hostsetup.KINESIS_AGENT: "aws-kinesis-agent",
         hostsetup.ORDERHIST_AGENT: "orderhist-agent"}
TERMINAL = {"Success", "Failed", "Cancelled", "TimedOut"}
REGISTER_WAIT_S = 600.0  # a host that has just booted registers with SSM within minutes
RUN_WAIT_S = 900.0  # dnf and pip on a small host
POLL_S = 2.0


def digest(artifacts: dict[str, bytes]) -> str:
    """The host's set-up as one tag value: a short digest per artifact."""
    return ",".join(f"{WHAT[key].replace(' ', '-')}={hashlib.sha256(data).hexdigest()[:12]}"
                    for key, data in sorted(artifacts.items()))


def changes(recorded: str | None, wanted: dict[str, bytes]) -> list[str]:
    """What differs between the set-up the host was given and the artifacts now, in words."""
    if not recorded:
        return ["set-up not recorded"]
    have = dict(part.split("=", 1) for part in recorded.split(",") if "=" in part)
    now = dict(part.split("=", 1) for part in digest(wanted).split(","))
    return [f"{name.replace('-', ' ')} changed" for name in sorted(now)
            if have.get(name) != now[name]]


def command(script: str, agent: str) -> str:
    """One shell command: the script travels base64-encoded (it holds heredocs and quotes of
    its own) and runs under bash as at first boot; `&&` so a failed step fails the command
    (Run Command runs its lines under sh, without `set -e`)."""
    encoded = base64.b64encode(script.encode()).decode()
    return (f"echo {encoded} | base64 -d > /root/orderhist-setup.sh && "
            f"bash /root/orderhist-setup.sh && systemctl restart {UNITS[agent]}")


def rerun(ctx, instance: str, script: str, agent: str) -> None:
    """Run the set-up on the host and wait for it; OrderhistError names what to do when it
    cannot run or fails."""
    ssm = ctx.client("ssm")
    command_id = _send(ssm, instance, command(script, agent))
    deadline = time.monotonic() + RUN_WAIT_S
    while True:
        try:
            status = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
        except Exception as error:  # just sent: AWS may not know the invocation yet
            if aws_errors.kind(error) != aws_errors.NOT_READY:
                raise
            status = {"Status": "Pending"}
        if status["Status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise OrderhistError(
                f"re-running the host's set-up on {instance} did not finish in "
                f"{RUN_WAIT_S:.0f} s (command {command_id}): run `orderhist up` again")
        time.sleep(POLL_S)
    if status["Status"] != "Success":
        detail = (status.get("StandardErrorContent") or "").strip().splitlines()[-1:]
        raise OrderhistError(
            f"re-running the host's set-up on {instance} ended {status['Status']}"
            + (f" ({detail[0]})" if detail else "")
            + "; see /var/log/orderhist-setup.log on the host, then run `orderhist up` again")


def _send(ssm, instance: str, text: str) -> str:
    deadline = time.monotonic() + REGISTER_WAIT_S
    while True:
        try:
            return ssm.send_command(
                InstanceIds=[instance], DocumentName="AWS-RunShellScript",
                Comment="orderhist up: host set-up, again",
                TimeoutSeconds=600,
                Parameters={"commands": [text], "executionTimeout": [str(int(RUN_WAIT_S))]},
            )["Command"]["CommandId"]
        except Exception as error:
            if aws_errors.kind(error) != aws_errors.NOT_READY:
                raise
            if time.monotonic() > deadline:
                raise OrderhistError(
                    f"the host {instance} is not reachable through SSM, so its set-up cannot "
                    f"run again: terminate it (aws ec2 terminate-instances --instance-ids "
                    f"{instance}) and run `orderhist up` for a new host") from None
            time.sleep(5.0)
