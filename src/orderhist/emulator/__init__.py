"""The embedded local AWS: moto's server in a process of its own, bound to 127.0.0.1.

`serve` runs inside that process (`orderhist emulator serve`): it configures moto before any
resource exists, makes the data-plane operations fast enough for the full dataset (see
`server`), optionally injects faults, and adds a few routes of its own under /_orderhist/.
`start`, `is_healthy` and `stop` run in the CLI. moto is imported only on the serving side,
so commands that merely talk to the emulator stay fast.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from orderhist import processes

# What the server process needs as well lives in `shared`, so that the server never imports
# this module back (this one starts the server).
from orderhist.emulator.shared import (  # noqa: F401  (the emulator's API)
    FAST_ENV,
    HOST,
    ROUTE_PREFIX,
    EmulatorError,
    check_fault_rate,
)
from orderhist.state import Home, read_json

NAME = "emulator"


# ---------------------------------------------------------------------------------------------
# The CLI side.

def port_file(home: Home) -> Path:
    return home.run_dir / "emulator.port"


CONSISTENCY_ENV = "ORDERHIST_CONSISTENCY_DELAY"


def serve_args(port_file_path: Path, faults: float = 0.0,
               fault_seed: int | None = None, enforce_iam: bool = False) -> list[str]:
    """The `orderhist` arguments that run the emulator in the foreground."""
    args = ["emulator", "serve", "--port-file", str(port_file_path)]
    if enforce_iam:
        args.append("--enforce-iam")
    # AWS's eventual consistency for the local target too, to rehearse a first deploy.
    delay = os.environ.get(CONSISTENCY_ENV, "").strip()
    if delay:
        args += ["--consistency-delay", delay]
    if faults:
        args += ["--faults", repr(float(faults))]
    if fault_seed is not None:
        args += ["--fault-seed", str(int(fault_seed))]
    return args


def start(home: Home, env: dict[str, str], timeout: float = 30.0, faults: float = 0.0,
          fault_seed: int | None = None, enforce_iam: bool = False) -> str:
    """Start the emulator on a free port; return its endpoint once it answers.

    `faults` is the rate of injected data-plane failures (0 = none); `fault_seed` makes them
    replayable (None: the emulator picks one and logs it)."""
    check_fault_rate(faults)
    try:
        port_file(home).unlink()
    except FileNotFoundError:
        pass
    process = processes.start(home, NAME,
                              serve_args(port_file(home), faults, fault_seed, enforce_iam), env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_json(port_file(home))
        if info:
            endpoint = f"http://{HOST}:{info['port']}"
            if is_healthy(endpoint):
                return endpoint
        # poll(), not the pid file: until exec, the child's command line is still ours.
        if process.poll() is not None:
            break
        time.sleep(0.05)
    log = processes.log_file(home, NAME)
    raise EmulatorError(f"the local AWS emulator did not start; see {log}")


def is_healthy(endpoint: str | None, timeout: float = 2.0) -> bool:
    if not endpoint:
        return False
    try:
        with urllib.request.urlopen(endpoint + ROUTE_PREFIX + "health", timeout=timeout) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def warning(endpoint: str | None, timeout: float = 2.0) -> str | None:
    """The running emulator's one-line warning (moto differs from the one its changes were
    verified against, so it serves stock moto), or None."""
    if not endpoint:
        return None
    try:
        with urllib.request.urlopen(endpoint + ROUTE_PREFIX + "health", timeout=timeout) as reply:
            return json.loads(reply.read()).get("warning")
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return None


def stop(home: Home) -> bool:
    stopped = processes.stop(home, NAME, grace=5.0)
    try:
        port_file(home).unlink()
    except FileNotFoundError:
        pass
    return stopped


def control(endpoint: str, route: str, payload: dict | None = None,
            timeout: float = 10.0) -> dict:
    """GET (or POST `payload` to) one of the emulator's own routes: `faults` (the injector's
    settings and counts; POST {"rate", "seed"} to change them) or `stats` (RSS, fast-path
    hits). For tests and benchmarks."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(endpoint + ROUTE_PREFIX + route, data=data,
                                     method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def set_iam(endpoint: str, enforce: bool) -> dict:
    """Turn a running emulator's IAM enforcement on or off in place."""
    return control(endpoint, "iam", {"enforce": bool(enforce)})


def set_faults(endpoint: str, rate: float, seed: int | None = None) -> dict:
    """Change a running emulator's fault injection in place (no restart, nothing lost);
    `seed` None keeps the current one. Returns the injector's settings and counts."""
    check_fault_rate(rate)
    return control(endpoint, "faults", {"rate": rate, **({} if seed is None else {"seed": seed})})


# ---------------------------------------------------------------------------------------------
# The serving side (imports moto).

def serve(port_file: Path | None, port: int = 0, faults: float = 0.0,
          fault_seed: int | None = None, consistency_delay: float = 0.0,
          enforce_iam: bool = False) -> None:
    """Serve the local AWS on 127.0.0.1 in the foreground, until SIGTERM."""
    from orderhist.emulator import server

    server.serve(port_file, port, faults, fault_seed, consistency_delay, enforce_iam)
