"""`generate`: order lines written on the stack's host, then, on request, followed into the
table. The local host is this machine (loggen writes its log directory); on AWS the EC2
host runs the generator through SSM (remote).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from orderhist.errors import OrderhistError
from orderhist.state import Home, StackState, require_state
from orderhist.validate import OptionConflict


@dataclass(frozen=True)
class Generation:
    """What one `generate` wrote and, with --wait, what became of it."""

    lines: int
    first_line: int | None
    last_line: int | None
    file: str  # the log file, or instance:/var/log/orders on AWS
    skipped: int  # source rows that were not orders
    timeout: float | None = None  # how long --wait waited; None without --wait
    stored: int | None = None
    rejected: int | None = None
    missing: int | None = None
    latency_ms: dict | None = None

    def as_json(self) -> dict:
        return {"lines": self.lines, "first_line": self.first_line,
                "last_line": self.last_line, "file": self.file, "skipped": self.skipped,
                "stored": self.stored, "rejected": self.rejected, "missing": self.missing,
                "latency_ms": self.latency_ms}

    def check(self) -> None:
        """Fail (after the summary is shown) when --wait ended with lines still missing."""
        if self.missing:
            raise OrderhistError(
                f"{self.missing} lines were not readable after {self.timeout:g} s; "
                "see `orderhist status` and the logs under the home directory")


def _quiet(*_args) -> AbstractContextManager:
    return contextlib.nullcontext()


def generate(home: Home, count: int, *, source: Path | None = None, now: bool = False,
             rate: float | None = None, wait: bool = False, timeout: float = 60.0,
             writing: Callable[[str], AbstractContextManager] = _quiet,
             following: Callable[[int], AbstractContextManager] = _quiet) -> Generation:
    """Write `count` lines on the stack's host; with `wait`, follow them into the table for
    up to `timeout` seconds. `writing(where)` surrounds the writing (a spinner);
    `following(lines)` surrounds the wait and gives the progress callback
    `delivery.wait_until_readable` takes (or None)."""
    state = require_state(home)
    if state.kind == "local":
        from orderhist import loggen

        require_local_pipeline(home, state)
        with writing("to the host's log"):
            result = loggen.generate(home, count, source=source, now=now, rate=rate)
        lines, where, skipped = result.lines, str(result.file), len(result.skipped)
    else:
        from orderhist import remote

        if source:
            raise OptionConflict("--source applies to the local target; the host "
                                 "generates from the dataset `up` gave it")
        with writing("on the host through SSM"):
            lines = remote.generate_on_host(state, count, now, rate)
        where, skipped = f"{state.required_id('instance', 'host')}:/var/log/orders", 0
    written = Generation(lines=len(lines), first_line=lines[0].line_no if lines else None,
                         last_line=lines[-1].line_no if lines else None, file=where,
                         skipped=skipped)
    if not wait:
        return written
    from orderhist import delivery

    with following(len(lines)) as progress:
        outcome = delivery.wait_until_readable(
            state.target(), state.required_id("table", "table"), lines, timeout,
            progress=progress)
    return replace(written, timeout=timeout, stored=outcome.stored, rejected=outcome.rejected,
                   missing=outcome.missing, latency_ms=outcome.percentiles())


def require_local_pipeline(home: Home, state: StackState) -> None:
    """The local pieces `generate` needs running: lines written without them would wait."""
    from orderhist import emulator, processes

    if not emulator.is_healthy(state.endpoint):
        raise OrderhistError("the local emulator is not running: run `orderhist up` to restart it")
    for name in ("agent", "runtime"):
        if not processes.status(home, name)["alive"]:
            raise OrderhistError(f"the {name} is not running: run `orderhist up` to restart it")
