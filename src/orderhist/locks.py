"""One writer at a time per home: advisory locks for the commands that change things.

Two locks, each a file under <home>/run:
- `stack`: `up` and `down` (stack changes: the state file, the emulator, the processes).
  Two `up`s at once would each start an emulator on the same pid file and port file.
- `host`: the host's generator (the position claim and the lines it writes) and `down`'s
  removal of the host's files. Two `generate`s at once would both read position 0 and
  write the same rows.
Reads (`orders`, `status`, `rejects`) take none.

A second run waits for the first, saying so on stderr, and gives up after a bound with a
clear error (exit 1). Waiting rather than claiming disjoint ranges of the dataset: a range of
N order lines is only known once the rows are read (rows that are not orders are skipped,
the dataset wraps), so a claim would cost the same read as writing them; and one run's lines
stay contiguous and in order in its own log file.

flock, not a pid file: the kernel drops the lock when its holder exits, SIGKILL included,
so a crashed run never leaves a stale lock behind. The files are never deleted (a waiter
holding the old inode of a deleted lock file would lock nothing).
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orderhist.errors import OrderhistError
from orderhist.state import Home

STACK = "stack"
HOST = "host"
# Long enough for another `up` on AWS (the host takes minutes to boot) or a generator
# writing at a --rate; ORDERHIST_LOCK_WAIT (seconds) overrides it.
DEFAULT_WAIT_S = 600.0
POLL_S = 0.1


def lock_file(home: Home, name: str):
    return home.run_dir / f"{name}.lock"


def _wait_limit() -> float:
    try:
        return float(os.environ.get("ORDERHIST_LOCK_WAIT", DEFAULT_WAIT_S))
    except ValueError:
        return DEFAULT_WAIT_S


def _stderr(text: str) -> None:
    # The waiting line is for whoever watches this command (a terminal, or an SSM log on
    # the AWS host), so it goes to stderr whatever the command draws on stdout.
    print(text, file=sys.stderr, flush=True)


@contextmanager
def hold(home: Home, name: str, command: str, wait: float | None = None,
         notify: Callable[[str], None] = _stderr) -> Iterator[None]:
    """Hold the `name` lock of `home` for the block; wait up to `wait` seconds for it."""
    path = lock_file(home, name)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise OrderhistError(f"cannot use {path}: {error.strerror}; check the home "
                             "directory's permissions, or use another --home") from None
    try:
        _acquire(fd, path, command, _wait_limit() if wait is None else wait, notify)
        # Who holds it, for the message a waiter prints; informative only.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _acquire(fd: int, path, command: str, wait: float,
             notify: Callable[[str], None]) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(path)
        if time.monotonic() >= deadline:
            raise OrderhistError(
                f"{holder} still holds {path} after {wait:g} s: wait for it to finish "
                f"(or stop it), then run `orderhist {command}` again")
        if not told:
            notify(f"waiting for {holder} in {path.parent.parent} to finish…")
            told = True
        time.sleep(POLL_S)


def _holder(path) -> str:
    try:
        pid, _, command = path.read_text(encoding="utf-8").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        return "another orderhist command"
    if not pid.isdigit():
        return "another orderhist command"
    return f"`orderhist {command}` (pid {pid})" if command else f"pid {pid}"
