"""Following generated lines through the pipeline: wait until each is readable from the table
(or listed as a reject), and measure end-to-end latency from EmittedAt to StoredAt."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from orderhist import aws, records
from orderhist.records import OrderLine

BATCH_GET_LIMIT = 100


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
    dynamodb = aws.client("dynamodb", target)
    # A key can repeat within one run (a wrap-around); the last write is the one to see.
    expected: dict[tuple[str, str], str] = {}
    lines_per_key: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (line.partition_key, line.sort_key)
        expected[key] = line.emitted_at
        lines_per_key[key] = lines_per_key.get(key, 0) + 1
    pending = dict(expected)
    result = Delivery()
    deadline = time.monotonic() + timeout
    next_reject_check = time.monotonic() + 0.5
    while pending:
        keys = list(pending)
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            for item in _batch_get(dynamodb, table, keys[start:start + BATCH_GET_LIMIT]):
                key = (item["CustomerID"]["S"], item["SK"]["S"])
                emitted = item.get("EmittedAt", {}).get("S")
                if key in pending and emitted == pending[key]:
                    del pending[key]
                    result.stored += lines_per_key[key]
                    stored_at = item.get("StoredAt", {}).get("S")
                    if stored_at and emitted:
                        delta = records.parse_utc_iso(stored_at) - records.parse_utc_iso(emitted)
                        result.latencies_ms.append(delta.total_seconds() * 1000)
        if pending and queue_url and time.monotonic() >= next_reject_check:
            for key in _rejected_keys(target, queue_url, pending):
                result.rejected += lines_per_key[key]
                del pending[key]
            next_reject_check = time.monotonic() + 0.5
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll_interval)
    result.missing = sum(lines_per_key[key] for key in pending)
    return result


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


def _rejected_keys(target: aws.Target, queue_url: str,
                   pending: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Pending lines the Lambda refused: matched by LineNo and EmittedAt in the raw data."""
    from orderhist.rejects import list_rejects

    wanted = {}
    for key, emitted in pending.items():
        line_no = int(key[1].rsplit("#", 1)[-1])
        wanted[(line_no, emitted)] = key
    found = []
    for reject in list_rejects(target, queue_url):
        identity = _identity_of_raw(reject.get("data", ""))
        if identity in wanted:
            found.append(wanted.pop(identity))
    return found


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
