"""What the runtime hands out, in the shapes AWS uses: the Kinesis event the function gets,
the reading of its ReportBatchItemFailures answer, and the invocation record an OnFailure
destination receives."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

# A synchronous invoke's payload limit, and the event's own JSON around its records.
PAYLOAD_LIMIT = 6 * 1024 * 1024
ENVELOPE_OVERHEAD = 64

OK, PARTIAL, ERROR = "ok", "partial", "error"


def arrival_epoch(record: dict) -> float:
    """ApproximateArrivalTimestamp as epoch seconds (boto3 parses it into a datetime)."""
    stamp = record.get("ApproximateArrivalTimestamp")
    if isinstance(stamp, datetime):
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    return float(stamp or 0.0)


def iso_ms(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_overhead(shard_id: str, stream_arn: str, region: str, role_arn: str) -> int:
    """Bytes of one record's JSON in the event besides its data, partition key and sequence
    number (each counted per record by `record_size`): the keys and this mapping's ARNs, as
    long as they are, measured on a record of the very shape the function gets."""
    blank = {"PartitionKey": "", "SequenceNumber": "", "Data": b"",
             # The longest a timestamp prints: 10 digits, a point and 3 decimals.
             "ApproximateArrivalTimestamp": 9_999_999_999.999}
    (record,) = kinesis_event([blank], shard_id, stream_arn, region, role_arn,
                              encrypted=True)["Records"]
    return len(json.dumps(record)) + len(", ")


def record_size(record: dict, overhead: int) -> int:
    """The record's share of an event's JSON size, for the payload limit. The partition key
    counts as JSON escapes it (up to 6 bytes a character); the sequence number appears twice
    (in the kinesis part and in eventID)."""
    return ((len(record["Data"]) + 2) // 3 * 4 + overhead
            + len(json.dumps(record["PartitionKey"])) - 2 + 2 * len(record["SequenceNumber"]))


def kinesis_event(records: list[dict], shard_id: str, stream_arn: str, region: str,
                  role_arn: str, encrypted: bool = False) -> dict:
    return {"Records": [_event_record(record, shard_id, stream_arn, region, role_arn, encrypted)
                        for record in records]}


def _event_record(record: dict, shard_id: str, stream_arn: str, region: str, role_arn: str,
                  encrypted: bool) -> dict:
    kinesis = {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record["PartitionKey"],
        "sequenceNumber": record["SequenceNumber"],
        "data": base64.b64encode(record["Data"]).decode("ascii"),
        "approximateArrivalTimestamp": round(arrival_epoch(record), 3),
    }
    # AWS's GetRecords says it per record; a stream with server-side encryption says KMS.
    if record.get("EncryptionType", "KMS" if encrypted else "NONE") == "KMS":
        kinesis["encryptionType"] = "KMS"
    return {
        "kinesis": kinesis,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def read_batch_response(payload, sequences: list[str]) -> tuple[str, int | None]:
    """A ReportBatchItemFailures answer -> (OK | PARTIAL | ERROR, index of the checkpoint).

    AWS's rules: an empty or null answer or list is complete success; an empty, null or
    misnamed itemIdentifier, or one that names no record of the batch, is complete failure;
    otherwise the lowest failing sequence number is where the batch resumes.
    """
    if not isinstance(payload, dict):
        return OK, None
    failures = payload.get("batchItemFailures")
    if not failures:
        return OK, None
    if not isinstance(failures, list):
        return ERROR, None
    position = {sequence: index for index, sequence in enumerate(sequences)}
    lowest: int | None = None
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in position:
            return ERROR, None
        index = position[identifier]
        lowest = index if lowest is None else min(lowest, index)
    return PARTIAL, lowest


def batch_info(records: list[dict], shard_id: str, stream_arn: str) -> dict:
    return {
        "shardId": shard_id,
        "startSequenceNumber": records[0]["SequenceNumber"],
        "endSequenceNumber": records[-1]["SequenceNumber"],
        "approximateArrivalOfFirstRecord": iso_ms(arrival_epoch(records[0])),
        "approximateArrivalOfLastRecord": iso_ms(arrival_epoch(records[-1])),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }


def invocation_record(*, request_id: str, function_arn: str, condition: str,
                      invoke_count: int, status_code: int, function_error: str | None,
                      info: dict, now: float) -> dict:
    """The record sent to an OnFailure destination when a batch is given up on."""
    # The key is there even when the function did not fail (a batch given up after partial
    # failures, or too old to invoke): AWS writes "functionError": null.
    response = {"statusCode": status_code, "executedVersion": "$LATEST",
                "functionError": function_error}
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_ms(now),
        "KinesisBatchInfo": info,
    }
