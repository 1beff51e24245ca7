"""Following generated lines through the pipeline: wait until each is readable from the table
(or listed as a reject), and measure end-to-end latency from EmittedAt to StoredAt."""
from __future__ import annotations

import itertools
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from orderhist import aws, records
from orderhist.records import OrderLine

BATCH_GET_LIMIT = 100
ROUND_CALLS = 20  # at most this many BatchGetItem calls between pauses
MAX_POLL_INTERVAL = 0.2
LINES_PER_ROUND = 500


@dataclass
class Delivery:
    stored: int = 0
    rejected: int = 0
    missing: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def percentiles(self) -> dict[str, float | None]:
        return latency_summary(self.latencies_ms)


def latency_summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        # Nearest-rank percentile: a value that was actually observed.
        index = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
        return round(ordered[int(index)], 1)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1], 1)}


def wait_until_readable(target: aws.Target, table: str, queue_url: str | None,
                        lines: list[OrderLine], timeout: float,
                        poll_interval: float = 0.05) -> Delivery:
    """Poll until every line is in the table as written by this run, or rejected."""
    # The requests are built here from our own keys: botocore's validation of each would
    # cost more CPU than the emulator spends answering.
    dynamodb = aws.client("dynamodb", target, parameter_validation=False)
    # A key can repeat within one run (a wrap-around); the last write is the one to see.
    expected: dict[tuple[str, str], str] = {}
    lines_per_key: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (line.partition_key, line.sort_key)
        expected[key] = line.emitted_at
        lines_per_key[key] = lines_per_key.get(key, 0) + 1
    # Insertion order is emission order, and the pipeline stores lines roughly in that
    # order: each round reads the oldest pending keys first and stops at the first batch
    # that is mostly not there yet, so a long run costs about one read per stored line
    # instead of one read per pending line per round.
    # An OrderedDict, not a dict: a dict's iteration steps over the slot of every key deleted
    # from its front, so each read of the oldest keys would cost more with every line found.
    pending = OrderedDict(expected)
    result = Delivery()
    deadline = time.monotonic() + timeout
    next_reject_check = time.monotonic() + 0.5
    rejects = _RejectWatch(target, queue_url) if queue_url else None
    pause = poll_interval
    round_started = time.monotonic()
    while pending:
        window = list(itertools.islice(pending, ROUND_CALLS * BATCH_GET_LIMIT))
        found = 0
        for start in range(0, len(window), BATCH_GET_LIMIT):
            keys = window[start:start + BATCH_GET_LIMIT]
            hits = _collect(result, pending, lines_per_key, _batch_get(dynamodb, table, keys))
            found += hits
            if hits * 2 < len(keys):
                break
        if pending and rejects and time.monotonic() >= next_reject_check:
            for key in rejects.refused(pending):
                result.rejected += lines_per_key[key]
                del pending[key]
            next_reject_check = time.monotonic() + 0.5
        if not pending or time.monotonic() >= deadline:
            break
        # Pace the rounds to the pipeline: about LINES_PER_ROUND new lines each at the rate
        # just seen, idle rounds backing off. Latency comes from the items' own timestamps,
        # so a longer pause only delays the return, never the figures.
        elapsed, round_started = time.monotonic() - round_started, time.monotonic()
        if found:
            pause = LINES_PER_ROUND * elapsed / found
        else:
            pause *= 2
        pause = min(MAX_POLL_INTERVAL, max(poll_interval, pause))
        time.sleep(pause)
    result.missing = sum(lines_per_key[key] for key in pending)
    return result


def _collect(result: Delivery, pending: dict, lines_per_key: dict, items: list[dict]) -> int:
    """Take the items that show this run's write out of `pending`; the number taken."""
    hits = 0
    for item in items:
        key = (item["CustomerID"]["S"], item["SK"]["S"])
        emitted = item.get("EmittedAt", {}).get("S")
        if key not in pending or emitted != pending[key]:
            continue
        del pending[key]
        hits += 1
        result.stored += lines_per_key[key]
        stored_at = item.get("StoredAt", {}).get("S")
        if stored_at and emitted:
            delta = records.parse_utc_iso(stored_at) - records.parse_utc_iso(emitted)
            result.latencies_ms.append(delta.total_seconds() * 1000)
    return hits


def _batch_get(dynamodb, table: str, keys: list[tuple[str, str]]) -> list[dict]:
    request = {table: {
        "Keys": [{"CustomerID": {"S": pk}, "SK": {"S": sk}} for pk, sk in keys],
        "ConsistentRead": True,
        "ProjectionExpression": "CustomerID, SK, EmittedAt, StoredAt",
    }}
    found = []
    while request:
        reply = dynamodb.batch_get_item(RequestItems=request)
        found.extend(reply.get("Responses", {}).get(table, []))
        request = reply.get("UnprocessedKeys") or None
    return found


class _RejectWatch:
    """Pending lines the Lambda refused, matched by LineNo and EmittedAt in the raw data.
    The (LineNo, EmittedAt) -> key map is built once, on the first reject seen: building it
    on every check cost O(pending) twice a second, a third of a 541,909-line run's CPU."""

    def __init__(self, target: aws.Target, queue_url: str):
        self.target, self.queue_url = target, queue_url
        self._by_identity: dict[tuple[int, str], tuple[str, str]] | None = None

    def refused(self, pending: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
        from orderhist.rejects import list_rejects

        rejects = list_rejects(self.target, self.queue_url)
        if not rejects:
            return []
        if self._by_identity is None:
            self._by_identity = {(OrderLine.parse_sort_key(key[1])[2], emitted): key
                                 for key, emitted in pending.items()}
        found: dict[tuple[str, str], None] = {}
        for reject in rejects:
            key = self._by_identity.get(_identity_of_raw(reject.get("data", "")))
            if key is not None and key in pending:
                found[key] = None
        return list(found)


def _identity_of_raw(data: str) -> tuple[int, str] | None:
    """(LineNo, EmittedAt) of a raw record, however malformed the rest of it is."""
    try:
        text = data.strip()
        if text.startswith("{"):
            obj = json.loads(text)
            return int(obj.get("LineNo")), obj.get("EmittedAt")
        fields = records.split_csv_line(text)
        return int(fields[-2]), fields[-1]
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
