"""Background processes of the local stack: start with a pid file, check, stop.

A pid file alone can outlive its process and name an unrelated one after pid reuse, so a
process counts as ours only if its command line still carries the marker we started it with.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orderhist.state import Home

MARKER = "--home"


def pid_file(home: Home, name: str) -> Path:
    return home.run_dir / f"{name}.pid"


def log_file(home: Home, name: str) -> Path:
    return home.logs_dir / f"{name}.log"


def read_pid(home: Home, name: str) -> int | None:
    try:
        return int(pid_file(home, name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode("utf-8", "replace").split("\0")


def _run_state(pid: int) -> str | None:
    """The kernel's one-letter state (R, S, T stopped, Z zombie, ...); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def _is_zombie(pid: int) -> bool:
    return _run_state(pid) in (None, "Z")


def is_stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP, SIGTSTP) or a tracer: alive, but answers nothing."""
    return _run_state(pid) in ("T", "t")


def resume(pid: int) -> None:
    _signal(pid, signal.SIGCONT)


def is_ours(home: Home, pid: int) -> bool:
    args = _cmdline(pid)
    if not args or _is_zombie(pid):
        return False
    return MARKER in args and str(home.root) in args


def status(home: Home, name: str) -> dict:
    pid = read_pid(home, name)
    return {"pid": pid, "alive": bool(pid and is_ours(home, pid))}


def start(home: Home, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start `python -m orderhist <args>` detached, logging to logs/<name>.log."""
    home.make_dirs()
    command = [sys.executable, "-m", "orderhist", MARKER, str(home.root), *args]
    with open(log_file(home, name), "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )
    pid_file(home, name).write_text(f"{process.pid}\n")
    return process


def stop(home: Home, name: str, grace: float = 10.0) -> bool:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. True if a process was stopped."""
    pid = read_pid(home, name)
    stopped = False
    if pid and is_ours(home, pid):
        stopped = True
        stop_pid(home, pid, grace)
    try:
        pid_file(home, name).unlink()
    except FileNotFoundError:
        pass
    return stopped


# What each background process runs after `--home <root>` (see `start`'s callers).
COMMANDS = {"emulator": ("emulator", "serve"), "agent": ("agent", "run"),
            "runtime": ("runtime", "run")}


def find_by_command(home: Home) -> dict[str, list[int]]:
    """This home's background processes found by their command lines alone: for a `down`
    whose pid files or state file are lost or damaged. Never this very process."""
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if not is_ours(home, pid):
            continue
        args = _cmdline(pid)
        for name, words in COMMANDS.items():
            if any(tuple(args[i:i + 2]) == words for i in range(len(args) - 1)):
                found.setdefault(name, []).append(pid)
    return found


def stop_pid(home: Home, pid: int, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, while the pid is still ours."""
    if not is_ours(home, pid):
        return
    if is_stopped(pid):
        # A stopped process acts on SIGTERM only once continued.
        _signal(pid, signal.SIGTERM)
        resume(pid)
    else:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and is_ours(home, pid):
        _reap(pid)
        time.sleep(0.05)
    if is_ours(home, pid):
        _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and is_ours(home, pid):
            _reap(pid)
            time.sleep(0.05)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    # A child of this very process (started earlier in the same `up`) must be reaped.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
