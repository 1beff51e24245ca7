"""The Lambda handler: Kinesis records in, DynamoDB items out, poison kept with its reason.

Runs on AWS Lambda (python3.12) and in orderhist's local runtime alike, from the same zip.
Standard library and boto3 only. Delivery is at-least-once; every write is a put of a key
derived from the line itself, so a re-delivered line overwrites itself.
"""
from __future__ import annotations

import base64
import binascii
import os
import random
import time
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orderhist import aws_errors, records, refusals, schema

HANDLER = "orderhist.function.handler.handler"
BATCH_WRITE_LIMIT = 25
# A reject carries the raw record, cut to stay well under DynamoDB's 400 KB item limit.
REJECT_DATA_LIMIT = 64 * 1024
# Stop retrying throttled writes while this much of the invocation's time remains.
TIME_MARGIN_MS = 2_000
# Unprocessed items are retried in rounds, with exponential backoff and jitter between them.
FIRST_RETRY_DELAY = 0.025
MAX_RETRY_DELAY = 1.0
MAX_WRITE_ROUNDS = 10
# Errors that mean the table itself is unusable: the whole batch must be retried later.
FATAL_WRITE_ERRORS = {aws_errors.MISSING, aws_errors.DENIED, aws_errors.BAD_CREDENTIALS,
                      aws_errors.INVALID}

_clients: dict[str, object] = {}

# A Lambda event, a DynamoDB item, a reject: JSON-shaped values read by key.
_Json = dict[str, Any]


class _BatchWriter(Protocol):
    """The one call made on the DynamoDB client (boto3 has no type information here)."""

    def batch_write_item(self, *, RequestItems: dict[str, list[_Json]]) -> _Json: ...


def _client(service: str) -> Any:  # a boto3 client, of whichever service
    # Created once per container, as Lambda reuses the process between invocations.
    if service not in _clients:
        config = None
        if service == "dynamodb":
            # Every item is built by records.to_item from a validated line; botocore's
            # validation of each attribute again was a fifth of the function's CPU.
            config = Config(parameter_validation=False)
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def handler(event: _Json, context: object) -> dict[str, list[dict[str, str]]]:
    stored_at = records.utc_now_iso_ms()
    items: dict[tuple[str, str], tuple[_Json, list[int]]] = {}
    rejects: list[tuple[int, _Json]] = []
    for record in event.get("Records", []):
        kinesis = record["kinesis"]
        sequence = int(kinesis["sequenceNumber"])
        try:
            data = base64.b64decode(kinesis["data"], validate=True)
        except (binascii.Error, ValueError):
            rejects.append((sequence, _reject(record, "record data is not base64", b"")))
            continue
        try:
            line = records.parse_wire(data)
        except records.RecordError as error:
            rejects.append((sequence, _reject(record, str(error), data)))
            continue
        key = (line.partition_key, line.sort_key)
        # The same line twice in one batch (an agent retry) would make BatchWriteItem
        # refuse the whole call; one put serves both deliveries.
        previous = items.get(key)
        sequences = (previous[1] if previous else []) + [sequence]
        items[key] = (records.to_item(line, stored_at), sequences)

    # A refused record is kept in the table's rejects partitions, written with the good lines:
    # it is then listed whole and in order, and one that cannot be written is retried like
    # any line rather than lost. (The queue stays for what only Lambda can send: the
    # mapping's given-up batches.)
    for sequence, reject in rejects:
        item = refusals.reject_to_item(reject)
        items[schema.key_of(item)] = (item, [sequence])
    failed = _write_items(list(items.values()), context)
    # One line per invocation and one per refused record: what `orderhist logs function`
    # (CloudWatch Logs on AWS) shows between START and END.
    for sequence, reject in rejects:
        print(f"refused {reject.get('shardId')} {sequence}: {reject.get('reason')}")
    print(f"{len(event.get('Records', []))} records: {len(items) - len(rejects)} lines put, "
          f"{len(rejects)} refused" + (f", retry from {min(failed)}" if failed else ""))
    if failed:
        return {"batchItemFailures": [{"itemIdentifier": str(min(failed))}]}
    return {"batchItemFailures": []}


def _reject(record: _Json, reason: str, data: bytes) -> _Json:
    kinesis = record["kinesis"]
    arrival = kinesis.get("approximateArrivalTimestamp")
    try:
        text, encoding = data[:REJECT_DATA_LIMIT].decode("utf-8"), "text"
    except UnicodeDecodeError:
        text = base64.b64encode(data[:REJECT_DATA_LIMIT]).decode("ascii")
        encoding = "base64"
    # Which generated line this was, read from all of the data (the copy kept may be cut).
    line_no, emitted_at = refusals.raw_identity(data.decode("utf-8", "replace")) or (None, None)
    return {
        "reason": reason,
        "data": text,
        "dataEncoding": encoding,
        "truncated": len(data) > REJECT_DATA_LIMIT,
        "shardId": record.get("eventID", ":").split(":")[0],
        "sequenceNumber": kinesis["sequenceNumber"],
        "eventSourceARN": record.get("eventSourceARN"),
        "approximateArrivalTimestamp": arrival,
        "arrivedAt": refusals.iso_from_epoch(arrival) if isinstance(arrival, (int, float))
        else records.utc_now_iso_ms(),
        "rejectedAt": records.utc_now_iso_ms(),
        "lineNo": line_no,
        "emittedAt": emitted_at,
    }


def _write_items(pending: list[tuple[_Json, list[int]]], context: object) -> list[int]:
    """Batch-write 25 at a time; then retry whatever came back unprocessed, all of it in one
    round after one backoff (not a backoff per call of 25), while there is time.
    Returns the sequence numbers of lines that still could not be written."""
    table = os.environ["TABLE_NAME"]
    dynamodb: _BatchWriter = _client("dynamodb")
    sequences_of = {schema.key_of(item): sequences for item, sequences in pending}
    requests = [{"PutRequest": {"Item": item}} for item, _ in pending]
    wrote_any = False
    attempt = 0
    while requests:
        unprocessed = []
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            chunk = requests[start:start + BATCH_WRITE_LIMIT]
            try:
                reply = dynamodb.batch_write_item(RequestItems={table: chunk})
            except ClientError as error:
                if aws_errors.kind(error) in FATAL_WRITE_ERRORS and not wrote_any:
                    raise  # the table is unusable: fail the invocation, retry the batch
                unprocessed += chunk
                continue
            except BotoCoreError:
                unprocessed += chunk
                continue
            left = reply.get("UnprocessedItems", {}).get(table, [])
            wrote_any = wrote_any or len(left) < len(chunk)
            unprocessed += left
        requests = unprocessed
        if not requests:
            break
        attempt += 1
        delay = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** (attempt - 1)) \
            * random.uniform(0.5, 1.0)
        if _remaining_ms(context) - delay * 1000 < TIME_MARGIN_MS or attempt > MAX_WRITE_ROUNDS:
            break
        time.sleep(delay)
    return [sequence for request in requests
            for sequence in sequences_of[schema.key_of(request["PutRequest"]["Item"])]]


def _remaining_ms(context: object) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() if getter else 60_000.0
