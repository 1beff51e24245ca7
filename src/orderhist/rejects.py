"""Reading the rejects queue without consuming it.

Two kinds of message share the queue: a record the Lambda refused (its JSON carries
"reason", "data", "shardId", "sequenceNumber", ...) and the invocation record of a batch the
event source mapping gave up on (its JSON carries "requestContext" and "KinesisBatchInfo").
`is_batch_info` tells them apart.

Receiving with VisibilityTimeout=0 would keep answering with the same first ten messages, so
the scan hides what it has seen for a while (each receive then brings new ones) and makes all
of it visible again at the end. A reader that dies half-way loses nothing either: the
messages reappear when the scan's visibility timeout runs out.
"""
from __future__ import annotations

import json

from orderhist import aws

SCAN_VISIBILITY_S = 30
SQS_BATCH = 10


def list_rejects(target: aws.Target, queue_url: str, *, distinct: bool = True) -> list[dict]:
    """Every message on the queue, oldest first, each the parsed JSON body.

    Delivery is at-least-once, so a record can be refused twice (a batch retried after a
    write failure, a runtime killed before its checkpoint); with `distinct` each refused
    record (stream, shard, sequence number) and each given-up batch is listed once.
    """
    sqs = aws.client("sqs", target)
    seen: dict[str, dict] = {}
    handles: list[str] = []
    try:
        while True:
            reply = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=SCAN_VISIBILITY_S,
                # Long polling asks every SQS server, so an empty answer means empty; the
                # emulator is one server and would only make the last call wait.
                WaitTimeSeconds=0 if target.is_local else 1,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            messages = reply.get("Messages", [])
            fresh = 0
            for message in messages:
                handles.append(message["ReceiptHandle"])
                if message["MessageId"] not in seen:
                    seen[message["MessageId"]] = message
                    fresh += 1
            if not fresh:
                break
    finally:
        _make_visible(sqs, queue_url, handles)
    ordered = sorted(seen.values(),
                     key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))
    bodies = [_parse(message["Body"]) for message in ordered]
    if not distinct:
        return bodies
    unique: dict[tuple, dict] = {}
    for index, body in enumerate(bodies):
        unique.setdefault(_identity(body) or ("message", index), body)
    return list(unique.values())


def is_batch_info(message: dict) -> bool:
    """True for an OnFailure invocation record, False for a refused record."""
    return "KinesisBatchInfo" in message and "requestContext" in message


def _identity(message: dict) -> tuple | None:
    if is_batch_info(message):
        info = message["KinesisBatchInfo"]
        return ("batch", info.get("streamArn"), info.get("shardId"),
                info.get("startSequenceNumber"), info.get("endSequenceNumber"))
    if message.get("sequenceNumber") is not None:
        return ("record", message.get("eventSourceARN"), message.get("shardId"),
                message.get("sequenceNumber"))
    return None


def _parse(body: str) -> dict:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {"reason": "the queue held a message that is not a JSON object", "data": body}


def _make_visible(sqs, queue_url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), SQS_BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                   for i, handle in enumerate(handles[start:start + SQS_BATCH])]
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:  # they come back by themselves when the timeout runs out
            pass
