"""The agent's counters, kept in a JSON file that `orderhist status` reads.

The stats file lives beside the checkpoint file (`<checkpointFile>.stats.json`) unless
`agent run --stats FILE` says otherwise; it is rewritten atomically about once a second and
on exit. Each counter has one writer thread (tailer or sender), so plain ints are enough.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderhist.state import read_json, write_json_atomic

log = logging.getLogger("orderhist.agent")

TOTALS = ("lines_read", "records_sent", "bytes_sent", "retries", "dead_letters", "put_calls",
          "failed_calls", "partial_failures", "conversion_fallbacks", "blank_lines", "files",
          "behind_bytes", "buffered_records", "put_seconds")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_stats_path(checkpoint_file: Path) -> Path:
    checkpoint_file = Path(checkpoint_file)
    return checkpoint_file.with_name(checkpoint_file.name + ".stats.json")


@dataclass
class FlowStats:
    stream: str
    file_pattern: str
    lines_read: int = 0
    blank_lines: int = 0
    conversion_fallbacks: int = 0
    dead_letters: int = 0
    records_sent: int = 0
    bytes_sent: int = 0
    put_calls: int = 0
    put_seconds: float = 0.0  # time spent waiting on PutRecords: busy share = this / uptime
    failed_calls: int = 0  # whole PutRecords calls that raised
    partial_failures: int = 0  # calls where some entries failed
    retries: int = 0  # records sent again
    files: int = 0
    behind_bytes: int = 0  # written to the files but not read yet
    buffered_records: int = 0  # read but not accepted yet
    last_sent_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None

    def note_error(self, message: str) -> None:
        self.last_error_at = utc_now()
        self.last_error = message

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class AgentStats:
    def __init__(self, path: Path):
        self.path = path
        self.flows: dict[str, FlowStats] = {}
        self.started_at = utc_now()
        self._started = time.monotonic()
        self.state = "starting"

    def flow(self, flow_id: str, stream: str, file_pattern: str) -> FlowStats:
        return self.flows.setdefault(flow_id, FlowStats(stream, file_pattern))

    def snapshot(self) -> dict[str, Any]:
        flows = {flow_id: stats.as_dict() for flow_id, stats in self.flows.items()}
        totals = {name: sum(f[name] for f in flows.values()) for name in TOTALS}
        totals["put_seconds"] = round(totals["put_seconds"], 3)
        errors = [f for f in flows.values() if f["last_error_at"]]
        latest = max(errors, key=lambda f: f["last_error_at"], default=None)
        sent = [f["last_sent_at"] for f in flows.values() if f["last_sent_at"]]
        return {
            **totals,
            "last_error": latest["last_error"] if latest else None,
            "last_error_at": latest["last_error_at"] if latest else None,
            "last_sent_at": max(sent, default=None),
            "state": self.state,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime_s": round(time.monotonic() - self._started, 1),
            "updated_at": utc_now(),
            "flows": flows,
        }

    def write(self) -> None:
        try:
            write_json_atomic(self.path, self.snapshot())
        except OSError as error:  # counters are for people; shipping goes on without them
            log.error("cannot write stats %s: %s", self.path, error)


def read_stats(stats_path: Path) -> dict[str, Any]:
    """The last counters an agent wrote; zeros and state "absent" if it never wrote any.

    Keys: lines_read, records_sent, retries, dead_letters, last_error (and last_error_at,
    bytes_sent, put_calls, failed_calls, partial_failures, buffered_records, behind_bytes,
    files, state, pid, updated_at, flows).
    """
    try:
        data = read_json(Path(stats_path))
    except (ValueError, OSError):
        data = None
    if not isinstance(data, dict):
        data = {name: 0 for name in TOTALS}
        data.update(last_error=None, last_error_at=None, last_sent_at=None, state="absent",
                    pid=None, updated_at=None, flows={})
    return data
