"""What the pipeline refused, read whole.

Two kinds of reject, kept in two places:
- a record the Lambda refused (its reason, the raw data, shard and sequence number) is an
  item in the table's rejects partitions (`refusals.reject_key`), written by the handler with
  the good lines: a Query reads all of them, oldest arrival first, complete;
- a batch the event source mapping gave up on is sent by Lambda itself to the OnFailure
  queue (only its batch info: "requestContext" and "KinesisBatchInfo"), so the queue is read
  too. An older orderhist also sent refused records there; they are listed as well.

A queue cannot promise completeness: a receive hides what it returns, another reader may
hold messages, and on AWS an empty receive does not prove an empty queue. The scan hides
what it reads for longer than it may run, stops when it has read as many messages as the
queue says it holds (or when it runs out of time), makes everything visible again, and
reports how many it could not read instead of pretending to be complete.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from orderhist import aws, aws_errors, refusals
from orderhist.schema import PARTITION_KEY, SORT_KEY

SQS_BATCH = 10
SCAN_VISIBILITY_S = 120
SCAN_BUDGET_S = 60.0  # well under SCAN_VISIBILITY_S: our own messages never reappear mid-scan
AWS_EMPTY_RECEIVES = 3  # on AWS an empty long poll may miss servers: ask a few times
QUERY_PAGE_LIMIT = 1000


@dataclass
class Rejects:
    refused: list[dict] = field(default_factory=list)   # from the table, oldest first
    given_up: list[dict] = field(default_factory=list)  # batch infos from the queue
    unread: int = 0  # messages the queue holds that this listing could not read
    table_missing: bool = False  # the refused records could not be read: no table

    @property
    def all(self) -> list[dict]:
        return self.refused + self.given_up

    @property
    def complete(self) -> bool:
        return self.unread == 0 and not self.table_missing

    def check(self) -> None:
        """Fail (after the listing is shown) when it is partial: a partial list must not pass
        for the whole one, for a script least of all."""
        from orderhist.errors import OrderhistError

        if self.table_missing:
            raise OrderhistError("the table does not exist, so its refused records could not "
                                 "be listed (only the queue's given-up batches are): run "
                                 "`orderhist up`")
        if not self.complete:
            raise OrderhistError(
                f"{self.unread} messages on the rejects queue could not be read (another "
                "reader holds them, or they arrived during the listing): run `orderhist "
                "rejects` again")


@dataclass(frozen=True)
class Where:
    """Where a stack keeps its rejects."""

    target: aws.Target
    table: str | None
    queue: str | None


def locate(home) -> Where:
    from orderhist.state import require_state

    state = require_state(home)
    return Where(state.target(), state.resource_id("table"), state.resource_id("queue"))


def list_rejects(target: aws.Target, table: str | None, queue_url: str | None) -> Rejects:
    """Every refused record and every given-up batch, each once."""
    found = Rejects()
    if table:
        try:
            found.refused = refused(target, table)
        except Exception as error:
            # Given-up batches matter most when the table is gone: list them all the same.
            if not aws_errors.is_missing(error):
                raise
            found.table_missing = True
    if queue_url:
        messages, found.unread = read_queue(target, queue_url)
        known = {_identity(r) for r in found.refused}
        for message in messages:
            if is_batch_info(message):
                found.given_up.append(message)
            elif _identity(message) not in known:  # an older orderhist's refused record
                found.refused.append(message)
    return found


def refused(target: aws.Target, table: str) -> list[dict]:
    """Every refused record in the table, oldest arrival first."""
    dynamodb = aws.client("dynamodb", target, patient=False)
    items = [item for partition in refusals.reject_partitions()
             for item in _query(dynamodb, table, partition)]
    found = [refusals.reject_from_item(item) for item in items]
    found.sort(key=lambda r: (r.get("arrivedAt", ""), r.get("shardId", ""),
                              len(r.get("sequenceNumber", "")), r.get("sequenceNumber", "")))
    return found


def refused_lines(dynamodb, table: str, first_emitted: str, last_emitted: str,
                  attributes: list[str]) -> list[dict]:
    """The raw items of refused records that carry a generated line emitted between the two
    moments (inclusive): only what a run's own lines could have caused is read."""
    between = {"lo": first_emitted, "hi": last_emitted + "~"}  # "~" sorts after "#<line>..."
    return [item for partition in refusals.line_reject_partitions()
            for item in _query(dynamodb, table, partition, between, attributes)]


def _query(dynamodb, table: str, partition: str, between: dict | None = None,
           attributes: list[str] | None = None) -> list[dict]:
    request: dict = {"TableName": table, "Limit": QUERY_PAGE_LIMIT,
                     "KeyConditionExpression": f"{PARTITION_KEY} = :p",
                     "ExpressionAttributeValues": {":p": {"S": partition}}}
    if between:
        request["KeyConditionExpression"] += f" AND {SORT_KEY} BETWEEN :lo AND :hi"
        request["ExpressionAttributeValues"].update(
            {":lo": {"S": between["lo"]}, ":hi": {"S": between["hi"]}})
    if attributes:  # "Data" is one of DynamoDB's reserved words: name them all
        request["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
        request["ExpressionAttributeNames"] = {f"#a{i}": a for i, a in enumerate(attributes)}
    found: list[dict] = []
    while True:
        reply = dynamodb.query(**request)
        found.extend(reply.get("Items", []))
        if not reply.get("LastEvaluatedKey"):
            return found
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def count_refused(target: aws.Target, table: str) -> int:
    dynamodb = aws.client("dynamodb", target, patient=False)
    total = 0
    for partition in refusals.reject_partitions():
        request = {"TableName": table, "Select": "COUNT",
                   "KeyConditionExpression": f"{PARTITION_KEY} = :p",
                   "ExpressionAttributeValues": {":p": {"S": partition}}}
        while True:
            reply = dynamodb.query(**request)
            total += reply.get("Count", 0)
            if not reply.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    return total


def read_queue(target: aws.Target, queue_url: str) -> tuple[list[dict], int]:
    """(every distinct message body read, oldest first; how many the queue holds unread)."""
    with HeldQueue(target, queue_url) as held:
        return [body for body, _ in held.distinct()], held.unread


class HeldQueue:
    """Every message the queue gives up, held hidden for the time of one `with` block; what
    is not deleted in it is made visible again at its end."""

    def __init__(self, target: aws.Target, queue_url: str):
        self.target, self.queue_url = target, queue_url
        self.sqs = aws.client("sqs", target, patient=False)
        self.messages: list[dict] = []  # distinct by MessageId, oldest first
        self.unread = 0
        self._handles: list[str] = []

    def __enter__(self) -> HeldQueue:
        try:
            self._receive_all()
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def distinct(self) -> list[tuple[dict, list[str]]]:
        """(parsed body, receipt handles of every copy) per distinct message: delivery is
        at-least-once, so a batch can be given up on, and sent, twice."""
        unique: dict[tuple, tuple[dict, list[str]]] = {}
        for index, message in enumerate(self.messages):
            body = _parse(message["Body"])
            entry = unique.setdefault(_identity(body) or ("message", index), (body, []))
            entry[1].append(message["ReceiptHandle"])
        return list(unique.values())

    def delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), SQS_BATCH):
            chunk = handles[start:start + SQS_BATCH]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)])
        gone = set(handles)
        self._handles = [handle for handle in self._handles if handle not in gone]

    def release(self) -> None:
        _make_visible(self.sqs, self.queue_url, self._handles)
        self._handles = []

    def _receive_all(self) -> None:
        expected = _queue_depth(self.sqs, self.queue_url)
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + SCAN_BUDGET_S
        empty_receives = 0
        while len(seen) < expected and time.monotonic() < deadline:
            reply = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=SCAN_VISIBILITY_S,
                # Long polling asks every SQS server; the emulator is one server.
                WaitTimeSeconds=0 if self.target.is_local else 1,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            messages = reply.get("Messages", [])
            if not messages:
                empty_receives += 1
                if self.target.is_local or empty_receives >= AWS_EMPTY_RECEIVES:
                    break
                continue
            empty_receives = 0
            for message in messages:
                self._handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], message)
        # What is still visible, or hidden by another reader, is what this scan missed.
        self.unread = max(0, _queue_depth(self.sqs, self.queue_url) - len(seen))
        self.messages = sorted(seen.values(),
                               key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))


def is_batch_info(message: dict) -> bool:
    """True for an OnFailure invocation record, False for a refused record."""
    return "KinesisBatchInfo" in message and "requestContext" in message


def _queue_depth(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(value) for value in attributes.values())


def _identity(message: dict) -> tuple | None:
    if is_batch_info(message):
        info = message["KinesisBatchInfo"]
        return ("batch", info.get("streamArn"), info.get("shardId"),
                info.get("startSequenceNumber"), info.get("endSequenceNumber"))
    if message.get("sequenceNumber") is not None:
        return ("record", message.get("shardId"), message.get("sequenceNumber"))
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
