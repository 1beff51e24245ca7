"""The log generator on the host: N order lines appended to a new timestamped file in the
orders log directory, continuing from where the last run stopped and wrapping at the end of
the dataset (the seed's LogGenerator, with its place kept per source file)."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderhist import locks, records
from orderhist.dataset.bundled import bundled_dataset
from orderhist.errors import UsageProblem
from orderhist.records import OrderLine
from orderhist.state import Home, load_json, write_json_atomic

WRITE_CHUNK = 5_000  # lines read before they are written out


@dataclass
class Generated:
    lines: list[OrderLine]
    skipped: list[tuple[int, str]]  # (row number, reason) of source rows that are not orders
    file: Path
    wrapped: bool


def position_file(home: Home) -> Path:
    return home.host_dir / "position.json"


def generate(home: Home, count: int, source: Path | None = None, now: bool = False,
             rate: float | None = None, log_dir: Path | None = None,
             report: Path | None = None) -> Generated:
    """`count` lines to a new log file in `log_dir`; `report` gets a copy of them, for the
    CLI that asked the EC2 host for them through SSM (`host-generate`)."""
    if count < 1:
        raise UsageProblem("--count must be at least 1")
    source = (source or bundled_dataset()).resolve()
    if not source.exists():
        raise UsageProblem(f"no dataset at {source}")
    log_dir = log_dir or home.orders_log_dir
    # From reading the position to saving the new one, this run owns the host: a second
    # run waits, then continues where this one stopped (see locks).
    with locks.hold(home, locks.HOST, "generate"):
        positions = load_json(position_file(home), POSITION_FIX, check=_positions_problem,
                              default={})
        reading = _Reading(source, positions.get(str(source), 0))
        log_dir.mkdir(parents=True, exist_ok=True)
        path = _new_log_path(log_dir)
        written = _write(path, reading.lines(count), now, rate)
        positions[str(source)] = reading.position
        write_json_atomic(position_file(home), positions)
    if report is not None:
        report.write_text("".join(records.to_log_line(line) + "\n" for line in written),
                          encoding="utf-8")
    return Generated(written, reading.skipped, path, reading.wrapped)


POSITION_FIX = ("move it away to start again from the top of the dataset (lines written "
                "twice are stored once)")


def _positions_problem(positions: dict) -> str | None:
    for value in positions.values():
        if type(value) is not int or value < 0:
            return "a position is not a row number"
    return None


class _Reading:
    """The dataset read from where the last run stopped, wrapping at its end; rows that are
    not order lines are kept in `skipped` with their reason."""

    def __init__(self, source: Path, start: int) -> None:
        self.source = source
        self.position = start
        self.skipped: list[tuple[int, str]] = []
        self.wrapped = False

    def lines(self, count: int):
        from orderhist.dataset import iter_lines

        chosen = 0
        while chosen < count:
            read_any = False
            for line_no, row in iter_lines(self.source, start=self.position):
                read_any = True
                self.position = line_no
                if isinstance(row, records.RecordError):
                    self.skipped.append((line_no, str(row)))
                    continue
                chosen += 1
                yield row
                if chosen == count:
                    return
            if not read_any and self.position == 0:
                raise UsageProblem(f"{self.source} holds no data rows")
            if not chosen and self.wrapped:
                raise UsageProblem(f"{self.source} holds no readable order lines")
            self.position, self.wrapped = 0, True  # the end: start again from the top


def _new_log_path(log_dir: Path) -> Path:
    # One file per run, named by time: the agent follows new files as they appear.
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return log_dir / f"{stamp}.log"


def _write(path: Path, lines, now: bool, rate: float | None) -> list[OrderLine]:
    """Append the lines to a new file as they are read, so the agent starts shipping the
    first chunk while later ones are still being read; the file is created only once there
    is a line to put in it."""
    invoice_times: dict[str, str] = {}

    def stamped(line: OrderLine, emitted_at: str | None = None) -> OrderLine:
        changes: dict[str, Any] = {"emitted_at": emitted_at or records.utc_now_iso_ms()}
        if now:
            # Every line of one invoice gets the same "placed at" time.
            changes["invoice_date"] = invoice_times.setdefault(
                line.invoice_no, records.normalise_date(datetime.now(UTC)))
        return dataclasses.replace(line, **changes)

    written: list[OrderLine] = []
    handle = None
    try:
        if not rate:
            for chunk in _chunks(lines, WRITE_CHUNK):
                handle = handle or open(path, "a", encoding="utf-8", newline="")
                # The chunk goes out in one write: one emission time for all of it.
                emitted_at = records.utc_now_iso_ms()
                stamped_chunk = [stamped(line, emitted_at) for line in chunk]
                handle.write("".join(records.to_log_line(line) + "\n" for line in stamped_chunk))
                handle.flush()
                written.extend(stamped_chunk)
        else:
            interval = 1.0 / rate
            next_at = time.monotonic()
            for line in lines:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
                line = stamped(line)
                handle = handle or open(path, "a", encoding="utf-8", newline="")
                handle.write(records.to_log_line(line) + "\n")
                handle.flush()
                written.append(line)
    finally:
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
    return written


def _chunks(iterable, size: int):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
