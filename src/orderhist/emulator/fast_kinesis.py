"""Kinesis PutRecords and GetRecords answered from moto's own Stream and Shard objects.

PutRecords (and PutRecord) append through Shard.append (O(1), under the Kinesis lock) after
the checks moto makes (500 records, 1 MiB per record, 5 MiB per call, 256-character keys);
anything else (ExplicitHashKey, an unknown stream, a limit broken) goes to moto, which
answers with its own error. GetRecords slices from the iterator's position. Injected faults
(PutRecords and GetRecords only): failed entries (not stored, FailedRecordCount exact),
throttled reads, 500s.
"""
from __future__ import annotations

import base64
import binascii

from orderhist.emulator.wire import kinesis_error, kinesis_reply

MAX_RECORDS = 500
MAX_RECORD_BYTES = 1024 * 1024
MAX_CALL_BYTES = 5 * 1024 * 1024
THROTTLED = "ProvisionedThroughputExceededException"


def _backend(call):
    from moto.kinesis.models import kinesis_backends

    return kinesis_backends[call.account][call.region]


def _stream(call, arn, name):
    if arn is not None and type(arn) is not str or name is not None and type(name) is not str:
        return None
    try:
        return _backend(call).describe_stream(stream_arn=arn, stream_name=name)
    except Exception:  # moto's not-found error: moto will answer it
        return None


def _rate_exceeded(shard_id: str, stream, account: str) -> str:
    return (f"Rate exceeded for shard {shard_id} in stream {stream.stream_name} "
            f"under account {account}.")


def put_records(call):
    body = call.body
    if not set(body) <= {"StreamName", "StreamARN", "Records"}:
        return None
    entries = body.get("Records")
    if type(entries) is not list or not entries or len(entries) > MAX_RECORDS:
        return None
    stream = _stream(call, body.get("StreamARN"), body.get("StreamName"))
    if stream is None:
        return None
    planned = []
    total = 0
    for entry in entries:
        if type(entry) is not dict or set(entry) != {"Data", "PartitionKey"}:
            return None
        key = entry["PartitionKey"]
        payload = _record_payload(key, entry["Data"])
        if payload is None:
            return None
        size = len(payload) + len(key)
        total += size
        shard = stream.get_shard_for_key(key, None)
        if shard is None:
            return None
        planned.append((key, payload, shard))
    if total > MAX_CALL_BYTES:
        return None

    injector = call.injector
    if injector.server_error("PutRecords"):
        return kinesis_error("500 Internal Server Error", "InternalFailure", "Internal failure")
    failures = injector.failed_entries("PutRecords", len(planned))
    results = []
    failed = 0
    for (key, payload, shard), fails in zip(planned, failures):
        if fails:
            failed += 1
            results.append({"ErrorCode": THROTTLED,
                            "ErrorMessage": _rate_exceeded(shard.shard_id, stream, call.account)})
        else:
            sequence = shard.append(key, payload, None)
            results.append({"SequenceNumber": str(sequence), "ShardId": shard.shard_id})
    return kinesis_reply({"FailedRecordCount": failed, "Records": results})


def _record_payload(key, data) -> bytes | None:
    """A record's decoded data, if its key and data are ones moto would take as they are."""
    if type(key) is not str or not 1 <= len(key) <= 256 or type(data) is not str:
        return None
    try:
        payload = binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return None
    return payload if len(payload) + len(key) <= MAX_RECORD_BYTES else None


def put_record(call):
    body = call.body
    if not set(body) <= {"StreamName", "StreamARN", "Data", "PartitionKey"}:
        return None
    key = body.get("PartitionKey")
    payload = _record_payload(key, body.get("Data"))
    if payload is None:
        return None
    stream = _stream(call, body.get("StreamARN"), body.get("StreamName"))
    if stream is None:
        return None
    shard = stream.get_shard_for_key(key, None)
    if shard is None:
        return None
    sequence = shard.append(key, payload, None)
    return kinesis_reply({"SequenceNumber": str(sequence), "ShardId": shard.shard_id})


def get_records(call):
    from moto.kinesis.utils import compose_shard_iterator, decompose_shard_iterator

    body = call.body
    if not set(body) <= {"ShardIterator", "Limit", "StreamARN"}:
        return None
    iterator, limit = body.get("ShardIterator"), body.get("Limit")
    if type(iterator) is not str or limit is not None and type(limit) is not int:
        return None
    try:
        stream_name, shard_id, last = decompose_shard_iterator(iterator)
        last = int(last)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        return None
    stream = _stream(call, body.get("StreamARN"), stream_name)
    shard = stream.shards.get(shard_id) if stream is not None else None
    if shard is None or not hasattr(shard, "append"):
        return None

    injector = call.injector
    if injector.server_error("GetRecords"):
        return kinesis_error("500 Internal Server Error", "InternalFailure", "Internal failure")
    if injector.throttled("GetRecords"):
        return kinesis_error("400 Bad Request", THROTTLED,
                             _rate_exceeded(shard_id, stream, call.account))
    records, last, behind = shard.get_records(last, limit)
    out = []
    for record in records:
        payload = record.payload
        data = (base64.b64encode(payload).decode("ascii") if type(payload) is bytes
                else base64.b64encode(base64.b64decode(payload)).decode("ascii"))
        out.append({"SequenceNumber": str(record.sequence_number),
                    "ApproximateArrivalTimestamp": record.arrival_timestamp(),
                    "Data": data, "PartitionKey": record.partition_key})
    return kinesis_reply({"Records": out,
                          "NextShardIterator": compose_shard_iterator(stream_name, shard, last),
                          "MillisBehindLatest": behind})
