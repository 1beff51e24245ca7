"""Re-driving the batches the event source mapping gave up on.

When a batch runs out of MaximumRetryAttempts or MaximumRecordAgeInSeconds (a wrong policy,
a throttled or missing table, a bug), Lambda moves the shard past it and sends only its batch
info (shard, first and last sequence numbers) to the OnFailure queue: the lines are not in
the table. The stream still holds them until its retention runs out, so each given-up batch
is read back from its shard, put into the stream again (same data, same partition key: the
handler's writes are idempotent puts, so a line that did land overwrites itself), and its
batch info is deleted from the queue only once every record is back in the stream.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from orderhist import aws, aws_errors
from orderhist.errors import OrderhistError
from orderhist.rejects import HeldQueue, is_batch_info

PUT_LIMIT = 500
READ_LIMIT = 10_000
PUT_ATTEMPTS = 8


@dataclass
class Replay:
    batches: int = 0
    records: int = 0
    # (shard, first..last sequence, why) of batches left on the queue
    not_replayed: list[tuple[str, str, str]] = field(default_factory=list)
    unread: int = 0  # queue messages this run could not read (another reader holds them)

    def as_json(self) -> dict:
        return {"batches": self.batches, "records": self.records, "unread": self.unread,
                "not_replayed": [{"shardId": shard, "sequenceNumbers": span, "reason": why}
                                 for shard, span, why in self.not_replayed]}

    def check(self) -> None:
        """Fail (after the result is shown) when batches stay on the queue."""
        if self.not_replayed or self.unread:
            raise OrderhistError(
                f"{len(self.not_replayed)} given-up batches could not be replayed and "
                f"{self.unread} queue messages could not be read; they stay on the queue")


def replay_given_up(target: aws.Target, queue_url: str | None) -> Replay:
    if not queue_url:
        raise OrderhistError("the stack has no rejects queue: run `orderhist up`")
    kinesis = aws.client("kinesis", target)
    result = Replay()
    with HeldQueue(target, queue_url) as held:
        result.unread = held.unread
        for body, handles in held.distinct():
            if not is_batch_info(body):
                continue
            info = body["KinesisBatchInfo"]
            span = f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')}"
            try:
                records = _read_batch(kinesis, info)
                _put_again(kinesis, info["streamArn"], records)
            except BatchGone as gone:
                result.not_replayed.append((str(info.get("shardId")), span, str(gone)))
                continue
            held.delete(handles)
            result.batches += 1
            result.records += len(records)
    return result


class BatchGone(OrderhistError):
    """The stream no longer holds (all of) the batch's records."""


def _read_batch(kinesis, info: dict) -> list[dict]:
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        # By name, not ARN: moto's iterators from an ARN forget the stream they belong to.
        iterator = kinesis.get_shard_iterator(
            StreamName=_stream_name(info["streamArn"]), ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    except Exception as error:
        if aws_errors.kind(error) in (aws_errors.MISSING, aws_errors.INVALID):
            raise BatchGone(f"the stream no longer holds it ({aws_errors.code(error)})") from None
        raise
    found: list[dict] = []
    while iterator:
        reply = kinesis.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
        for record in reply.get("Records", []):
            sequence = int(record["SequenceNumber"])
            if sequence > last:
                return _whole(found, first, info)
            found.append(record)
        if not reply.get("Records") and not reply.get("MillisBehindLatest"):
            break  # the end of what the shard holds
        iterator = reply.get("NextShardIterator")
    return _whole(found, first, info)


def _whole(found: list[dict], first: int, info: dict) -> list[dict]:
    # Past the retention period the oldest records are trimmed: a batch read back from a
    # later record than its first, or short of its size, is not the batch.
    if not found or int(found[0]["SequenceNumber"]) != first:
        raise BatchGone("its first record is past the stream's retention")
    if info.get("batchSize") and len(found) < int(info["batchSize"]):
        raise BatchGone(f"only {len(found)} of its {info['batchSize']} records are left")
    return found


def _put_again(kinesis, stream_arn: str, records: list[dict]) -> None:
    for start in range(0, len(records), PUT_LIMIT):
        entries = [{"Data": r["Data"], "PartitionKey": r["PartitionKey"]}
                   for r in records[start:start + PUT_LIMIT]]
        for attempt in range(PUT_ATTEMPTS):
            reply = kinesis.put_records(StreamName=_stream_name(stream_arn), Records=entries)
            if not reply.get("FailedRecordCount"):
                break
            # Only the refused entries again, in their order (a throttled shard).
            entries = [entry for entry, outcome in zip(entries, reply["Records"])
                       if "ErrorCode" in outcome]
            time.sleep(min(2.0, 0.1 * 2 ** attempt))
        else:
            raise OrderhistError(f"the stream kept refusing {len(entries)} records; "
                               "run `orderhist rejects --replay` again")


def _stream_name(stream_arn: str) -> str:
    return stream_arn.split(":", 5)[5].split("/", 1)[1]
