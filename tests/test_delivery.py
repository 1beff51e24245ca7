"""`generate --wait`'s follower against the real emulator: lines stored by this run count as
stored, a line the Lambda parked on the rejects queue counts as rejected, an older write of
the same key does not count, and what never arrives is reported missing when time runs out."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from decimal import Decimal

from orderhist import aws, delivery, records
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


def park(sqs, queue_url: str, line: records.OrderLine) -> None:
    """The message the handler sends for a record it refuses, carrying the raw line."""
    record = {"kinesis": {"sequenceNumber": "49600000000000000000000001"},
              "eventID": "shardId-000000000000:49600000000000000000000001"}
    body = handler_module._reject(record, "refused for the test",
                                  records.to_log_line(line).encode())
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))


def test_stored_rejected_stale_and_missing_lines_are_told_apart(local_target, unique_name):
    dynamodb, sqs = aws.client("dynamodb", local_target), aws.client("sqs", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    queue_url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    lines = make_lines(1_200, records.utc_now_iso_ms())
    stale = dataclasses.replace(lines[3], emitted_at="2020-01-01T00:00:00.000Z")
    put(dynamodb, unique_name, [stale])  # an earlier run's write of the same key
    park(sqs, queue_url, lines[7])
    missing = {lines[3].line_no, lines[11].line_no}
    arriving = [line for line in lines if line.line_no not in missing | {lines[7].line_no}]

    # The rest lands while the follower polls, in order, as the pipeline would write them.
    writer = threading.Thread(target=lambda: [
        (put(dynamodb, unique_name, arriving[i:i + 100]), time.sleep(0.05))
        for i in range(0, len(arriving), 100)])
    writer.start()
    outcome = delivery.wait_until_readable(local_target, unique_name, queue_url, lines,
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
    outcome = delivery.wait_until_readable(local_target, unique_name, None, lines, timeout=30)
    waited = time.monotonic() - started
    timer.join()
    assert (outcome.stored, outcome.missing) == (50, 0)
    # The idle back-off is capped: the follower notices within a pause of the last write.
    assert waited < 1.0 + delivery.MAX_POLL_INTERVAL + 1.0
