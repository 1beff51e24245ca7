"""Counters for `orderhist status`: each poller keeps its own, the supervisor writes them all
to one JSON file about once a second, and `read_stats` reads it from any process."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from orderhist.records import utc_now_iso_ms
from orderhist.state import read_json, write_json_atomic

STATS_FILE = "stats.json"
# A runtime writes every second; a file older than this belongs to one that has stopped.
STALE_AFTER_S = 10.0


@dataclass
class ShardStats:
    mapping: str
    function: str
    stream: str
    shard: str
    checkpoint: str | None = None
    millis_behind_latest: int | None = None
    pending_records: int = 0          # read from the stream, not yet done
    caught_up: bool = False           # the last read reached the end of the shard
    invocations: int = 0
    errors: int = 0                   # function errors: exceptions, timeouts, crashes
    partial_failures: int = 0         # invocations that reported batchItemFailures
    records_done: int = 0
    records_discarded: int = 0        # given up on, sent to the OnFailure destination
    records_filtered: int = 0         # dropped by the mapping's FilterCriteria, as AWS drops them
    last_error: str | None = None
    last_error_at: str | None = None
    finished: bool = False            # a closed shard read to its end
    last_done_at: str | None = None   # when records_done last grew (seen at a snapshot)
    done_seen: int = 0

    def error(self, message: str, *, function_error: bool) -> None:
        if function_error:
            self.errors += 1
        self.last_error = message[:500]
        self.last_error_at = utc_now_iso_ms()

    def as_json(self) -> dict:
        # Noted here, at the once-a-second snapshot, so the poller need not: tells `status`
        # whether the last error (a denied write, say) still holds.
        if self.records_done != self.done_seen:
            self.done_seen, self.last_done_at = self.records_done, utc_now_iso_ms()
        data = asdict(self)
        # Known exactly only when the reader is at the end of the shard.
        data["records_behind"] = self.pending_records if self.caught_up else None
        return data


def write_stats(work_dir: Path, shards: list[ShardStats], runtime_error: str | None) -> None:
    write_json_atomic(work_dir / STATS_FILE, {
        "pid": os.getpid(),
        "updated_at": utc_now_iso_ms(),
        "updated_epoch": time.time(),
        "runtime_error": runtime_error,
        "shards": [shard.as_json() for shard in shards],
    })


def read_stats(work_dir: Path) -> dict:
    """The runtime's last report, summed up: lag, invocations, errors, last error, and the
    per-shard detail under "shards". Missing file: zeros and `present: False`."""
    try:
        data = read_json(Path(work_dir) / STATS_FILE) or {}
    except (ValueError, OSError):  # counters are for people: a damaged file reads as none
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("shards", []), list) \
            or not all(isinstance(shard, dict) for shard in data.get("shards", [])):
        data = {}
    shards = data.get("shards", [])
    behind = [s["millis_behind_latest"] for s in shards
              if s.get("millis_behind_latest") is not None]
    errors = [s for s in shards if s.get("last_error_at")]
    last = max(errors, key=lambda s: s["last_error_at"]) if errors else None
    age = time.time() - data["updated_epoch"] if "updated_epoch" in data else None
    records_behind = [s.get("records_behind") for s in shards]
    return {
        "present": bool(data),
        "pid": data.get("pid"),
        "updated_at": data.get("updated_at"),
        "stale": age is None or age > STALE_AFTER_S,
        "millis_behind_latest": max(behind) if behind else None,
        "records_behind": (sum(records_behind) if shards and None not in records_behind
                           else None),
        "pending_records": sum(s.get("pending_records", 0) for s in shards),
        "invocations": sum(s.get("invocations", 0) for s in shards),
        "errors": sum(s.get("errors", 0) for s in shards),
        "records_done": sum(s.get("records_done", 0) for s in shards),
        "records_discarded": sum(s.get("records_discarded", 0) for s in shards),
        "records_filtered": sum(s.get("records_filtered", 0) for s in shards),
        "last_error": (last or {}).get("last_error") or data.get("runtime_error"),
        "last_error_at": (last or {}).get("last_error_at"),
        "shards": shards,
    }
