"""`generate --wait`'s follower against the real emulator: lines stored by this run count as
stored, a line the Lambda refused counts as rejected, an older write of
the same key does not count, and what never arrives is reported missing when time runs out."""
from __future__ import annotations

import dataclasses
import threading
import time
from decimal import Decimal

from orderhist import aws, delivery, records, refusals
from orderhist.function import handler as handler_module
from orderhist.resources.data import table_shape


def make_lines(count: int, emitted_at: str) -> list[records.OrderLine]:
    return [records.OrderLine(
        invoice_no=f"{560000 + n // 5}", stock_code=f"S{n}", description=f"item {n}",
        quantity=n % 7 + 1, invoice_date="2011-06-01T10:00:00", unit_price=Decimal("1.25"),
        customer_id=str(13000 + n % 9), country="United Kingdom", line_no=n + 1,
        emitted_at=emitted_at) for n in range(count)]


def put(dynamodb, table: str, lines) -> None:
    for start in range(0, len(lines), 25):
        requests = [{"PutRequest": {"Item": records.to_item(line, records.utc_now_iso_ms())}}
                    for line in lines[start:start + 25]]
        dynamodb.batch_write_item(RequestItems={table: requests})


def refuse(dynamodb, table: str, line: records.OrderLine, sequence: int = 1) -> None:
    """What the handler keeps for a record it refuses, carrying the raw line."""
    record = {"kinesis": {"sequenceNumber": f"496{sequence:053d}",
                          "approximateArrivalTimestamp": time.time()},
              "eventID": f"shardId-000000000000:496{sequence:053d}"}
    reject = handler_module._reject(record, "refused for the test",
                                    records.to_log_line(line).encode())
    dynamodb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": refusals.reject_to_item(reject)}}]})


def test_stored_rejected_stale_and_missing_lines_are_told_apart(local_target, unique_name):
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    lines = make_lines(1_200, records.utc_now_iso_ms())
    stale = dataclasses.replace(lines[3], emitted_at="2020-01-01T00:00:00.000Z")
    put(dynamodb, unique_name, [stale])  # an earlier run's write of the same key
    refuse(dynamodb, unique_name, lines[7])
    missing = {lines[3].line_no, lines[11].line_no}
    arriving = [line for line in lines if line.line_no not in missing | {lines[7].line_no}]

    # The rest lands while the follower polls, in order, as the pipeline would write them.
    writer = threading.Thread(target=lambda: [
        (put(dynamodb, unique_name, arriving[i:i + 100]), time.sleep(0.05))
        for i in range(0, len(arriving), 100)])
    writer.start()
    outcome = delivery.wait_until_readable(local_target, unique_name, lines,
                                           timeout=6)
    writer.join()
    assert (outcome.stored, outcome.rejected, outcome.missing) == (1_197, 1, 2)
    assert len(outcome.latencies_ms) == 1_197


def test_returns_soon_after_the_last_line_lands(local_target, unique_name):
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    lines = make_lines(50, records.utc_now_iso_ms())
    timer = threading.Timer(1.0, put, (dynamodb, unique_name, lines))
    timer.start()
    started = time.monotonic()
    outcome = delivery.wait_until_readable(local_target, unique_name, lines, timeout=30)
    waited = time.monotonic() - started
    timer.join()
    assert (outcome.stored, outcome.missing) == (50, 0)
    # The idle back-off is capped: the follower notices within a pause of the last write.
    assert waited < 1.0 + delivery.MAX_POLL_INTERVAL + 1.0


def test_lines_stored_behind_a_gap_are_not_called_missing(local_target, unique_name):
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    lines = make_lines(1_200, records.utc_now_iso_ms())
    put(dynamodb, unique_name, lines[300:])  # the oldest 300 never arrive
    started = time.monotonic()
    outcome = delivery.wait_until_readable(local_target, unique_name, lines, timeout=3)
    waited = time.monotonic() - started
    assert (outcome.stored, outcome.rejected, outcome.missing) == (900, 0, 300)
    assert waited < 3 + 1.0  # --timeout bounds the wait, the last look included


def test_rejects_of_other_runs_cost_the_follower_nothing(local_target, unique_name):
    """30,000 records refused earlier (garbage, and lines of an earlier run) are never read:
    the follower asks only for rejects emitted within its own run."""
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    earlier = make_lines(15_000, "2026-11-29T10:00:00.000Z")
    requests = []
    for n, line in enumerate(earlier):
        for data in (records.to_log_line(line), f"garbage {n}"):
            sequence = f"496{len(requests):053d}"
            record = {"kinesis": {"sequenceNumber": sequence,
                                  "approximateArrivalTimestamp": time.time()},
                      "eventID": f"shardId-000000000000:{sequence}"}
            reject = handler_module._reject(record, "refused", data.encode())
            requests.append({"PutRequest": {"Item": refusals.reject_to_item(reject)}})
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={unique_name: requests[start:start + 25]})

    lines = make_lines(2_000, records.utc_now_iso_ms())
    refuse(dynamodb, unique_name, lines[5], sequence=10**9)
    put(dynamodb, unique_name, [line for line in lines if line is not lines[5]])
    calls = CountingQueries(dynamodb)
    outcome = delivery.wait_until_readable(local_target, unique_name, lines, timeout=10,
                                           dynamodb=calls)
    assert (outcome.stored, outcome.rejected, outcome.missing) == (1_999, 1, 0)
    assert calls.items_returned <= 10  # its own reject, not the table's 30,000


class CountingQueries:
    """The real client, counting the items its Query calls bring back."""

    def __init__(self, real):
        self.real, self.items_returned = real, 0

    def query(self, **request):
        reply = self.real.query(**request)
        self.items_returned += len(reply.get("Items", []))
        return reply

    def batch_get_item(self, **request):
        return self.real.batch_get_item(**request)
