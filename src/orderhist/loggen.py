"""The log generator on the host: N order lines appended to a new timestamped file in the
orders log directory, continuing from where the last run stopped and wrapping at the end of
the dataset (the seed's LogGenerator, with its place kept per source file)."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from orderhist import records
from orderhist.errors import UsageProblem
from orderhist.records import OrderLine
from orderhist.state import Home, read_json, write_json_atomic

BUNDLED_NAME = "OnlineRetail.csv"


def bundled_dataset() -> Path:
    """data/OnlineRetail.csv: inside the installed package, or at the checkout's root."""
    packaged = Path(__file__).resolve().parent / "data" / BUNDLED_NAME
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "data" / BUNDLED_NAME


@dataclass
class Generated:
    lines: list[OrderLine]
    skipped: list[tuple[int, str]]  # (row number, reason) of source rows that are not orders
    file: Path
    wrapped: bool


def position_file(home: Home) -> Path:
    return home.host_dir / "position.json"


def generate(home: Home, count: int, source: Path | None = None, now: bool = False,
             rate: float | None = None, log_dir: Path | None = None) -> Generated:
    from orderhist.dataset import iter_lines

    if count < 1:
        raise UsageProblem("--count must be at least 1")
    source = (source or bundled_dataset()).resolve()
    if not source.exists():
        raise UsageProblem(f"no dataset at {source}")
    positions = read_json(position_file(home), {}) or {}
    start = int(positions.get(str(source), 0))

    chosen: list[OrderLine] = []
    skipped: list[tuple[int, str]] = []
    wrapped = False
    position = start
    while len(chosen) < count:
        read_any = False
        for line_no, row in iter_lines(source, start=position):
            read_any = True
            position = line_no
            if isinstance(row, records.RecordError):
                skipped.append((line_no, str(row)))
                continue
            chosen.append(row)
            if len(chosen) == count:
                break
        else:
            if not read_any and position == 0:
                raise UsageProblem(f"{source} holds no data rows")
            if not chosen and wrapped:
                raise UsageProblem(f"{source} holds no readable order lines")
            position, wrapped = 0, True  # the end of the dataset: start again from the top

    log_dir = log_dir or home.orders_log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    path = _new_log_path(log_dir)
    written = _write(path, chosen, now, rate)
    positions[str(source)] = position
    write_json_atomic(position_file(home), positions)
    return Generated(written, skipped, path, wrapped)


def _new_log_path(log_dir: Path) -> Path:
    # One file per run, named by time: the agent follows new files as they appear.
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    return log_dir / f"{stamp}.log"


def _write(path: Path, lines: list[OrderLine], now: bool, rate: float | None) -> list[OrderLine]:
    invoice_times: dict[str, str] = {}

    def stamped(line: OrderLine) -> OrderLine:
        changes = {"emitted_at": records.utc_now_iso_ms()}
        if now:
            # Every line of one invoice gets the same "placed at" time.
            changes["invoice_date"] = invoice_times.setdefault(
                line.invoice_no, records.normalise_date(datetime.now(timezone.utc)))
        return dataclasses.replace(line, **changes)

    written = []
    with open(path, "a", encoding="utf-8", newline="") as handle:
        if not rate:
            written = [stamped(line) for line in lines]
            handle.write("".join(records.to_log_line(line) + "\n" for line in written))
        else:
            interval = 1.0 / rate
            next_at = time.monotonic()
            for line in lines:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
                line = stamped(line)
                handle.write(records.to_log_line(line) + "\n")
                handle.flush()
                written.append(line)
        handle.flush()
        os.fsync(handle.fileno())
    return written
