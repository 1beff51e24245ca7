"""The local pipeline with IAM enforced (the default), end to end through the real CLI,
emulator, agent and runtime: it stores everything with the roles' own policies; a policy
stripped by an administrator stops the component it names, `status` says which action was
denied, and nothing is lost (the mapping's given-up batches are replayed, the agent's
checkpoint holds its lines); `up --no-iam` turns enforcement off."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from helpers.cli import orderhist, up_local
from helpers.runtime import given_up_records, stored_line_numbers
from helpers.waiting import wait_until
from orderhist import aws, emulator

POLICY = "orderhist"


def status(home) -> dict:
    result = orderhist(home, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Admin:
    """An administrator changing a role's policy through IAM (root keys)."""

    def __init__(self, target, role: str):
        self.iam, self.role = aws.client("iam", target), role
        document = self.iam.get_role_policy(RoleName=role, PolicyName=POLICY)["PolicyDocument"]
        self.original = document if isinstance(document, dict) else json.loads(document)

    def revoke(self, action: str) -> None:
        statements = []
        for statement in self.original["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            kept = [a for a in actions if a != action]
            if kept:
                statements.append({**statement, "Action": kept})
        self.iam.put_role_policy(RoleName=self.role, PolicyName=POLICY, PolicyDocument=json.dumps(
            {**self.original, "Statement": statements}))

    def restore(self) -> None:
        self.iam.put_role_policy(RoleName=self.role, PolicyName=POLICY,
                                 PolicyDocument=json.dumps(self.original))


def denied_actions(report: dict, component: str) -> set[str]:
    return {d["action"] for d in report.get("denied", []) if d["component"] == component}


@pytest.mark.slow
def test_enforced_pipeline_denials_are_named_and_nothing_is_lost(tmp_path):
    home = tmp_path / "home"
    try:
        state, target = up_local(home)
        resources = state["resources"]
        table = resources["table"]["id"]
        dynamodb = aws.client("dynamodb", target)
        assert status(home)["iam"] == "enforced"
        assert emulator.control(state["endpoint"], "iam")["enforce"] is True

        # 1. Everything stored with the roles' own policies.
        made = orderhist(home, "generate", "--count", "2000", "--wait", "--json",
                         "--timeout", "120")
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["stored"] == 2000
        assert emulator.control(state["endpoint"], "iam")["cached_decisions"] > 0

        # 2. The ingest role may no longer write the table: nothing is stored, status names
        # the action; the mapping gives the batches up (at once here) to its queue.
        aws.client("lambda", target).update_event_source_mapping(
            UUID=resources["mapping"]["id"], MaximumRetryAttempts=0,
            BisectBatchOnFunctionError=False)
        time.sleep(3)  # the runtime reads the mapping's settings every couple of seconds
        ingest = Admin(target, resources["ingest_role"]["id"])
        ingest.revoke("dynamodb:BatchWriteItem")
        assert orderhist(home, "generate", "--count", "200").returncode == 0
        wait_until(lambda: given_up_records(home) == 200, 60, interval=0.5,
                   message="the batches to be given up")
        assert len(stored_line_numbers(dynamodb, table)) == 2000
        # The runtime writes its stats once a second.
        wait_until(lambda: "dynamodb:BatchWriteItem" in denied_actions(status(home), "runtime"),
                   15, interval=0.5, message="status to name the runtime's denied BatchWriteItem")
        shown = orderhist(home, "status")
        assert "dynamodb:BatchWriteItem" in shown.stdout and "IAM: enforced" in shown.stdout

        ingest.restore()
        replayed = orderhist(home, "rejects", "--replay", "--json")
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout)["records"] == 200
        wait_until(lambda: len(stored_line_numbers(dynamodb, table)) >= 2200, 60,
                   interval=0.5, message="the replayed lines to be stored")
        time.sleep(1)
        assert stored_line_numbers(dynamodb, table) == list(range(1, 2201))  # once each
        assert given_up_records(home) == 0
        wait_until(lambda: not denied_actions(status(home), "runtime"), 15, interval=0.5,
                   message="status to drop the runtime's denial once it stores again")

        # 3. The host role may no longer put records: the agent says so and keeps its lines,
        # even across a kill -9; restored, every line arrives.
        host = Admin(target, resources["host_role"]["id"])
        host.revoke("kinesis:PutRecords")
        assert orderhist(home, "generate", "--count", "300").returncode == 0
        wait_until(lambda: "kinesis:PutRecords" in denied_actions(status(home), "agent"), 30,
                   interval=0.5, message="status to name the agent's denied PutRecords")
        report = status(home)
        assert "AccessDenied" in report["agent"]["last_error"]
        os.kill(report["processes"]["agent"]["pid"], signal.SIGKILL)
        host.restore()
        assert orderhist(home, "up").returncode == 0  # starts the agent again
        wait_until(lambda: len(stored_line_numbers(dynamodb, table)) >= 2500, 90,
                   interval=0.5, message="the held lines to arrive")
        time.sleep(1)
        assert stored_line_numbers(dynamodb, table) == list(range(1, 2501))
        wait_until(lambda: not status(home)["denied"], 15, interval=0.5,
                   message="no denial left in status")
    finally:
        orderhist(home, "down")


@pytest.mark.slow
def test_no_iam_turns_enforcement_off(tmp_path):
    home = tmp_path / "home"
    try:
        state, target = up_local(home, "--no-iam")
        assert emulator.control(state["endpoint"], "iam")["enforce"] is False
        assert status(home)["iam"] == "off"
        assert "IAM: off" in orderhist(home, "status").stdout
        # A role without its write permission still writes: nothing is checked.
        Admin(target, state["resources"]["ingest_role"]["id"]).revoke("dynamodb:BatchWriteItem")
        made = orderhist(home, "generate", "--count", "50", "--wait", "--json")
        assert made.returncode == 0 and json.loads(made.stdout)["stored"] == 50
        # Recorded: a later `up` keeps it off; `up --iam` turns it on in place.
        assert orderhist(home, "up").returncode == 0
        assert emulator.control(state["endpoint"], "iam")["enforce"] is False
        assert orderhist(home, "up", "--iam").returncode == 0
        assert emulator.control(state["endpoint"], "iam")["enforce"] is True
        assert status(home)["iam"] == "enforced"
    finally:
        orderhist(home, "down")
