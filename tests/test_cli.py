"""The command contract: exit codes, one-line errors, help, and commands that need a stack."""
from __future__ import annotations

from functools import partial

import pytest

from helpers.cli import run_cli
from orderhist import __version__

run = partial(run_cli, aws_env="shell", timeout=60)  # the user's environment, no ORDERHIST_HOME


def test_version_and_help(tmp_path):
    assert run(tmp_path, "--version").stdout.strip().endswith(__version__)
    shown = run(tmp_path, "--help")
    assert shown.returncode == 0
    for command in ("up", "generate", "orders", "down", "status", "rejects", "dataset"):
        assert command in shown.stdout


@pytest.mark.parametrize("args", [
    ["generate", "--count", "0"],
    ["generate"],
    ["orders"],
    ["up", "--shards", "2", "--on-demand"],
    ["up", "--target", "gcp"],
    ["up", "--endpoint-url", "http://127.0.0.1:1"],
    ["orders", "--customer", "1", "--json", "--csv"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(tmp_path, args):
    result = run(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ["generate", "--count", "5"],
    ["orders", "--customer", "17850"],
    ["status"],
    ["rejects"],
])
def test_commands_before_up_say_to_run_up(tmp_path, args):
    result = run(tmp_path / "empty", *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "orderhist up" in lines[0]


def test_down_without_a_stack_is_fine(tmp_path):
    assert run(tmp_path / "empty", "down").returncode == 0


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path):
    home = tmp_path / "home"
    result = run(home, "up", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would create" in result.stdout and "mapping" in result.stdout
    assert not (home / "state.json").exists()
    assert not (home / "run").exists() or not list((home / "run").glob("*.pid"))
