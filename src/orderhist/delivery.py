"""Following generated lines through the pipeline: wait until each is readable from the table
(or listed as a reject), and measure end-to-end latency from EmittedAt to StoredAt."""
from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from orderhist import aws, records, schema
from orderhist.records import OrderLine
from orderhist.refusals import REFUSED_EMITTED_AT, REFUSED_LINE_NO
from orderhist.schema import EMITTED_AT, SORT_KEY, STORED_AT

BATCH_GET_LIMIT = 100
ROUND_CALLS = 20  # at most this many BatchGetItem calls between pauses
MAX_POLL_INTERVAL = 0.2
LINES_PER_ROUND = 500
REJECT_CHECK_INTERVAL = 0.5
FINAL_SWEEP_S = 5.0  # at most this much of --timeout for a last look at every pending key
# What a line's end-to-end latency is read from.
LATENCY_ATTRIBUTES = f"{schema.PARTITION_KEY}, {SORT_KEY}, {EMITTED_AT}, {STORED_AT}"


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


def wait_until_readable(target: aws.Target, table: str, lines: list[OrderLine],
                        timeout: float, poll_interval: float = 0.05,
                        dynamodb=None, progress=None) -> Delivery:
    """Poll until every line is in the table as written by this run, or refused; return
    within `timeout` seconds (give or take one call) whatever is still pending.
    `progress(delivery, pending_lines)` is told after every round (several a second): what
    the rounds found, nothing read for it."""
    # The last part of the time is kept for one look at every key still pending.
    sweep_time = min(FINAL_SWEEP_S, timeout * 0.1)
    deadline = time.monotonic() + timeout - sweep_time
    # The requests are built here from our own keys: botocore's validation of each would
    # cost more CPU than the emulator spends answering.
    dynamodb = dynamodb or aws.client("dynamodb", target, patient=False,
                                     parameter_validation=False)
    # A key can repeat within one run (a wrap-around); the last write is the one to see.
    expected: dict[tuple[str, str], str | None] = {}
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
    rejects = _RejectWatch(table, dynamodb, lines)
    next_reject_check = time.monotonic() + REJECT_CHECK_INTERVAL
    pause = poll_interval
    round_started = time.monotonic()
    while pending and time.monotonic() < deadline:
        window = list(itertools.islice(pending, ROUND_CALLS * BATCH_GET_LIMIT))
        found = 0
        for start in range(0, len(window), BATCH_GET_LIMIT):
            keys = window[start:start + BATCH_GET_LIMIT]
            hits = _collect(result, pending, lines_per_key, _batch_get(dynamodb, table, keys))
            found += hits
            if hits * 2 < len(keys) or time.monotonic() >= deadline:
                break
        if pending and time.monotonic() >= next_reject_check:
            _take_refused(result, pending, lines_per_key, rejects.refused(pending))
            next_reject_check = time.monotonic() + REJECT_CHECK_INTERVAL
        if progress is not None:
            progress(result, len(lines) - result.stored - result.rejected)
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
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
    if pending:
        # Rounds stop at the first batch that is mostly not there; lines stored out of that
        # order would be called missing. Before saying so, look at every pending key once,
        # and at this run's rejects, within a short grace.
        sweep_end = time.monotonic() + sweep_time
        _take_refused(result, pending, lines_per_key, rejects.refused(pending))
        keys = list(pending)
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            if start and time.monotonic() >= sweep_end:
                break
            _collect(result, pending, lines_per_key,
                     _batch_get(dynamodb, table, keys[start:start + BATCH_GET_LIMIT]))
    result.missing = sum(lines_per_key[key] for key in pending)
    if progress is not None:
        progress(result, result.missing)
    return result


def _take_refused(result: Delivery, pending: dict, lines_per_key: dict, refused) -> None:
    for key in refused:
        if key in pending:
            result.rejected += lines_per_key[key]
            del pending[key]


def _collect(result: Delivery, pending: dict, lines_per_key: dict, items: list[dict]) -> int:
    """Take the items that show this run's write out of `pending`; the number taken."""
    hits = 0
    for item in items:
        key = schema.key_of(item)
        emitted = item.get(EMITTED_AT, {}).get("S")
        if key not in pending or emitted != pending[key]:
            continue
        del pending[key]
        hits += 1
        result.stored += lines_per_key[key]
        stored_at = item.get(STORED_AT, {}).get("S")
        if stored_at and emitted:
            delta = records.parse_utc_iso(stored_at) - records.parse_utc_iso(emitted)
            result.latencies_ms.append(delta.total_seconds() * 1000)
    return hits


def _batch_get(dynamodb, table: str, keys: list[tuple[str, str]]) -> list[dict]:
    request: dict | None = {table: {
        "Keys": [schema.key(pk, sk) for pk, sk in keys],
        "ConsistentRead": True,
        "ProjectionExpression": LATENCY_ATTRIBUTES,
    }}
    found = []
    while request:
        reply = dynamodb.batch_get_item(RequestItems=request)
        found.extend(reply.get("Responses", {}).get(table, []))
        request = reply.get("UnprocessedKeys") or None
    return found


class _RejectWatch:
    """Lines of this run that the Lambda refused. A refused record that carries a generated
    line's LineNo and EmittedAt is kept sorted by emission (`refusals.reject_key`), so each
    check reads only the rejects emitted between this run's oldest pending line and its
    last line: its cost follows this run's own rejects, never how many the table holds."""

    def __init__(self, table: str, dynamodb, lines: list[OrderLine]):
        self.table, self.dynamodb = table, dynamodb
        stamps = [line.emitted_at for line in lines if line.emitted_at]
        self.last = max(stamps) if stamps else ""
        self.seen: set[str] = set()
        # (LineNo, EmittedAt) -> key, built once, on the first reject seen: building it on
        # every check cost O(pending) twice a second, a third of a 541,909-line run's CPU.
        self._by_identity: dict[tuple[int, str], tuple[str, str]] | None = None

    def refused(self, pending: OrderedDict) -> list[tuple[str, str]]:
        from orderhist.rejects import refused_lines

        if not pending or not self.last:
            return []
        # Lines are pending in emission order, so the first holds the oldest stamp.
        first = next(iter(pending.values())) or ""
        found: list[tuple[str, str]] = []
        for item in refused_lines(self.dynamodb, self.table, first, self.last,
                                  [SORT_KEY, REFUSED_LINE_NO, REFUSED_EMITTED_AT]):
            sort_key = item[SORT_KEY]["S"]
            if sort_key in self.seen or REFUSED_LINE_NO not in item:
                continue
            self.seen.add(sort_key)
            if self._by_identity is None:
                self._by_identity = {(OrderLine.parse_sort_key(key[1])[2], emitted): key
                                     for key, emitted in pending.items()}
            key = self._by_identity.get((int(item[REFUSED_LINE_NO]["N"]),
                                         item.get(REFUSED_EMITTED_AT, {}).get("S", "")))
            if key is not None:
                found.append(key)
        return found
