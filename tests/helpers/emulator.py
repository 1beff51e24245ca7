"""The emulator's tests' helpers: emulator processes (fast, or stock moto's behaviour), clients
that keep the raw response, the same call on both (Twin). The twin_targets and fast_target
fixtures are in conftest.py."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

from botocore.exceptions import ClientError

from orderhist import aws, emulator
from orderhist.state import Home

REGION = "us-east-1"


def start_emulator(root: Path, fast: bool = True) -> tuple[Home, aws.Target]:
    home = Home(root)
    home.make_dirs()
    env = aws.local_child_environment(REGION)
    env[emulator.FAST_ENV] = "1" if fast else "0"
    endpoint = emulator.start(home, env)
    return home, aws.Target(aws.LOCAL, REGION, endpoint)


def raw_client(service: str, target: aws.Target):
    """A client that makes one attempt only and keeps the last raw response body."""
    client = aws.client(service, target, retries={"total_max_attempts": 1, "mode": "standard"})
    client.last_raw = None

    def keep(http_response, **_):
        client.last_raw = (http_response.status_code, http_response.content)

    client.meta.events.register("after-call.*.*", keep)
    return client


def outcome(client, operation: str, params: dict):
    """("ok", response JSON as sent) or ("error", code, message)."""
    try:
        getattr(client, operation)(**copy.deepcopy(params))
    except ClientError as error:
        info = error.response.get("Error", {})
        return ("error", info.get("Code"), info.get("Message"))
    status, body = client.last_raw
    return ("ok", json.loads(body) if body else None)


class Twin:
    """The same call on the fast and the stock emulator."""

    def __init__(self, service: str, fast: aws.Target, stock: aws.Target):
        self.fast = raw_client(service, fast)
        self.stock = raw_client(service, stock)
        # Valid requests stock moto crashes on (a 500), e.g. a BETWEEN clause before the
        # hash key's: there is no reference answer to compare with.
        self.stock_crashes: list = []

    def both(self, operation: str, **params):
        return outcome(self.fast, operation, params), outcome(self.stock, operation, params)

    def same(self, operation: str, reference: dict | None = None, **params):
        """Both answers, which must be equal; `reference` is an equivalent request to ask
        stock moto instead when it crashes on this one."""
        got, want = self.both(operation, **params)
        # A crash of moto is the service's own 500 (InternalServerError) in its JSON form.
        if want[:2] == ("error", "InternalServerError") and got[0] == "ok":
            self.stock_crashes.append((operation, params))
            if reference is None:
                return got
            want = outcome(self.stock, operation, reference)
        assert got == want, f"{operation}({params}) differs"
        return got


def fast_requests(target: aws.Target) -> dict:
    return emulator.control(target.endpoint_url, "stats")["requests"]


def serve_emulator(port_file: Path, consistency_delay, *,
                   output: bool = False) -> tuple[subprocess.Popen, str]:
    """`orderhist emulator serve --port-file F --consistency-delay D` in the foreground, as a
    script runs it (the README's form): the process and its endpoint once the port is written
    (30 s at most; else it is stopped). output=True keeps its stdout and stderr on a pipe, shown
    if it ends first."""
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) if output else \
        dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "emulator", "serve", "--port-file", str(port_file),
         "--consistency-delay", str(consistency_delay)], **pipes)
    deadline = time.monotonic() + 30
    try:
        while not port_file.exists():
            if output:
                assert process.poll() is None and time.monotonic() < deadline, \
                    process.stdout.read()
            else:
                assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    except BaseException:  # the caller never gets the process to stop
        process.terminate()
        process.wait(10)
        raise
    return process, f"http://127.0.0.1:{json.loads(port_file.read_text())['port']}"
