"""Running the real CLI (`python -m orderhist`) as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orderhist import aws

# Whatever the user's shell holds must not matter to the local target: a profile that does
# not exist, keys that look real, and an endpoint override that leads nowhere.
MISLEADING_AWS = {
    "AWS_PROFILE": "orderhist-test-no-such-profile",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "not-a-token",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_REGION": "ap-southeast-2",
    "AWS_DEFAULT_REGION": "ap-southeast-2",
}

# The standard credential chain as a user of the aws target has it (here: dummies).
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def cli_environment(aws_env: str = "misleading") -> dict | None:
    """The CLI's environment, always without ORDERHIST_HOME (the tests pass --home) except for
    "inherit":
      "misleading"  this process's environment with MISLEADING_AWS over it
      "dummies"     this process's environment without any AWS_* variable, plus DUMMY_AWS
      "shell"       this process's environment as it is
      "inherit"     None: the child inherits everything (the live AWS tests)"""
    if aws_env == "inherit":
        return None
    env = {k: v for k, v in os.environ.items() if k != "ORDERHIST_HOME"}
    if aws_env == "misleading":
        env.update(MISLEADING_AWS)
    elif aws_env == "dummies":
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        env.update(DUMMY_AWS)
    elif aws_env != "shell":
        raise ValueError(f"unknown aws_env {aws_env!r}")
    return env


def run_cli(home, *args: str, aws_env: str = "misleading", timeout: float = 180,
            **kwargs) -> subprocess.CompletedProcess:
    """`python -m orderhist --home HOME ARGS...` to its end, output captured as text. `home` is
    a path or a state.Home (its root); kwargs go to subprocess.run (input=...)."""
    root = home if isinstance(home, (str, os.PathLike)) else home.root  # a path, or a Home
    return subprocess.run(
        [sys.executable, "-m", "orderhist", "--home", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env=cli_environment(aws_env), **kwargs,
    )


def orderhist(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI on the local target, with a misleading AWS environment around it."""
    return run_cli(home, *args, aws_env="misleading", timeout=timeout)


def up_local(home: Path, *args: str) -> tuple[dict, aws.Target]:
    """`orderhist up` (with `args`) on the local target: the state file it wrote, and the
    target the test's own clients use to reach that stack."""
    started = orderhist(home, "up", *args)
    assert started.returncode == 0, started.stderr
    state = json.loads((home / "state.json").read_text())
    return state, aws.Target(aws.LOCAL, state["region"], state["endpoint"])
