"""The local event-source-mapping runtime: what Lambda's Kinesis poller does on AWS, done
here for the emulator (which stores mappings but never runs them).

`run_runtime` serves every enabled Kinesis mapping of the target until stopped (SIGTERM,
SIGINT or the `stop` event); `read_stats` reads what it last reported, from any process.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Collection
from pathlib import Path

from orderhist import aws, logs
from orderhist.runtime.stats import read_stats
from orderhist.runtime.supervisor import Supervisor

__all__ = ["run_runtime", "run_local", "local_target", "read_stats"]

log = logging.getLogger("orderhist.runtime")

REFRESH_S = 2.0
STATS_EVERY_S = 1.0
# On SIGTERM an in-flight batch may finish for this long (`down` waits 10 s, then kills).
SHUTDOWN_GRACE_S = 5.0
LOCK_FILE = "runtime.lock"


def run_runtime(target: aws.Target, work_dir: Path, stop: threading.Event | None = None, *,
                only_functions: Collection[str] | None = None) -> int:
    """Serve the target's enabled Kinesis mappings until `stop` is set or SIGTERM/SIGINT
    arrives; 0 on a clean stop, 1 if another runtime already serves `work_dir`.

    `only_functions` (names or ARNs) limits this runtime to those functions' mappings, for
    embedding it beside other users of one emulator.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    logs.configure("orderhist")
    lock = _lock(work_dir)
    if lock is None:
        log.error("another runtime already serves %s", work_dir)
        return 1
    stop = stop or threading.Event()
    restore = _install_signal_handlers(stop)
    supervisor = Supervisor(target, work_dir,
                            frozenset(only_functions) if only_functions is not None else None)
    log.info("runtime serving %s (pid %d, state in %s)", target.endpoint_url or target.region,
             os.getpid(), work_dir)
    try:
        next_refresh = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_refresh:
                supervisor.refresh()
                next_refresh = time.monotonic() + REFRESH_S
            supervisor.write_stats()
            stop.wait(STATS_EVERY_S)
    finally:
        supervisor.shutdown(SHUTDOWN_GRACE_S)
        supervisor.write_stats()
        restore()
        os.close(lock)
        log.info("runtime stopped")
    return 0


def run_local(home, endpoint_url: str | None = None, region: str | None = None) -> int:
    """`runtime run`: serve the local stack of `home` (its emulator and region, unless
    given) from its runtime directory."""
    return run_runtime(local_target(home, endpoint_url, region), home.runtime_dir)


def local_target(home, endpoint_url: str | None = None, region: str | None = None) -> aws.Target:
    """The emulator to poll: the one given, else the one the state file records."""
    from orderhist.errors import OrderhistError
    from orderhist.state import StackState

    # `up` passes both: a runtime it started must not depend on the state file's health.
    state = StackState.load(home) if not (endpoint_url and region) else None
    endpoint_url = endpoint_url or (state.endpoint if state else None)
    region = region or (state.region if state else None) or aws.DEFAULT_REGION
    if not endpoint_url:
        raise OrderhistError("no emulator endpoint: run `orderhist up` or pass --endpoint-url")
    return aws.Target(aws.LOCAL, region, endpoint_url)


def _lock(work_dir: Path) -> int | None:
    """One runtime per state directory: two would race on the checkpoints. The kernel drops
    the lock when the process dies, even by SIGKILL."""
    fd = os.open(work_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _install_signal_handlers(stop: threading.Event):
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore():
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
