"""The emulator's SQS (fast_sqs) answers as stock moto does, and its index stays whole.

- Over HTTP, a fast and a stock emulator seeded alike (so message ids and receipt handles are
  drawn alike) get the same random hot calls; every answer must be equal, wall-clock
  timestamps aside. Timeouts are 0 or long, or followed by a sleep past them, so the two
  servers' clocks never disagree on what is visible.
- In process, with moto's clock replaced by a fake one stepped to exact boundaries, the same
  random calls on stock and on patched moto (each in a fresh interpreter) give equal results.
- 100,000 messages sent, received, re-timed and deleted: the counts equal a walk of moto's own
  message list, and no call handles more than a bounded number of index entries.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from helpers.emulator import Twin

ACCOUNT = "123456789012"
CLOCK_KEYS = ("SentTimestamp", "ApproximateFirstReceiveTimestamp")
QUEUE_CLOCK_KEYS = ("CreatedTimestamp", "LastModifiedTimestamp")


def _seed(target, value: int) -> None:
    request = urllib.request.Request(f"{target.endpoint_url}/moto-api/seed?a={value}",
                                     data=b"", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def _seeded_twin(targets, seed: int) -> Twin:
    for target in targets:
        _seed(target, seed)
    return Twin("sqs", *targets)


def _comparable(outcome):
    """An answer without the wall-clock moments each server stamped by itself."""
    if outcome[0] != "ok" or not outcome[1]:
        return outcome
    body = json.loads(json.dumps(outcome[1]))
    for key in QUEUE_CLOCK_KEYS:
        if key in body.get("Attributes", {}):
            body["Attributes"][key] = "T"
    for message in body.get("Messages", []):
        for key in CLOCK_KEYS:
            if key in message.get("Attributes", {}):
                message["Attributes"][key] = "T"
    return outcome[0], body


def _same(twin: Twin, operation: str, **params):
    got, want = (_comparable(o) for o in twin.both(operation, **params))
    assert got == want, f"{operation}({params}) differs"
    return got


class Traffic:
    """Random hot calls on one queue; remembers the receipt handles it was given."""

    def __init__(self, twin: Twin, url: str, seed: int):
        self.twin, self.url, self.rng = twin, url, random.Random(seed)
        self.handles: list[str] = []

    def entry(self, n: int) -> dict:
        rng = self.rng
        entry = {"Id": f"e{n}", "MessageBody": rng.choice(["garbage", "x" * 300, "ünï ✓",
                                                           f"line {rng.randrange(10**6)}"])}
        if rng.random() < 0.2:
            entry["MessageAttributes"] = {"reason": {"DataType": "String", "StringValue": "bad"}}
        if rng.random() < 0.1:
            entry["DelaySeconds"] = rng.choice([0, 900])
        return entry

    def handle(self) -> str:
        if self.handles and self.rng.random() < 0.9:
            return self.rng.choice(self.handles)
        return "not-a-handle"

    def step(self) -> None:
        rng, url = self.rng, self.url
        roll = rng.random()
        if roll < 0.25:
            entries = [self.entry(n) for n in range(rng.randrange(1, 11))]
            _same(self.twin, "send_message_batch", QueueUrl=url, Entries=entries)
        elif roll < 0.35:
            entry = self.entry(0)
            entry.pop("Id")
            _same(self.twin, "send_message", QueueUrl=url, **entry)
        elif roll < 0.6:
            params = {"QueueUrl": url, "MaxNumberOfMessages": rng.randrange(1, 11),
                      "WaitTimeSeconds": 0}
            if rng.random() < 0.8:
                params["VisibilityTimeout"] = rng.choice([0, 0, 60, 600])
            if rng.random() < 0.7:
                params["MessageSystemAttributeNames"] = rng.choice(
                    [["All"], ["ApproximateReceiveCount"], ["SentTimestamp", "SenderId"]])
            if rng.random() < 0.5:
                params["MessageAttributeNames"] = ["All"]
            got = _same(self.twin, "receive_message", **params)
            self.handles += [m["ReceiptHandle"] for m in (got[1] or {}).get("Messages", [])]
        elif roll < 0.7:
            entries = [{"Id": f"c{n}", "ReceiptHandle": self.handle(),
                        "VisibilityTimeout": rng.choice([0, 0, 30, 50000])}
                       for n in range(rng.randrange(1, 6))]
            _same(self.twin, "change_message_visibility_batch", QueueUrl=url, Entries=entries)
        elif roll < 0.75:
            _same(self.twin, "change_message_visibility", QueueUrl=url,
                  ReceiptHandle=self.handle(), VisibilityTimeout=rng.choice([0, 45, 43200]))
        elif roll < 0.85:
            handles = list(dict.fromkeys(self.handle() for _ in range(rng.randrange(1, 8))))
            _same(self.twin, "delete_message_batch", QueueUrl=url, Entries=[
                {"Id": f"d{n}", "ReceiptHandle": h} for n, h in enumerate(handles)])
        elif roll < 0.9:
            _same(self.twin, "delete_message", QueueUrl=url, ReceiptHandle=self.handle())
        else:
            names = rng.choice([["All"], ["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"],
                                ["ApproximateNumberOfMessagesDelayed", "QueueArn"]])
            _same(self.twin, "get_queue_attributes", QueueUrl=url, AttributeNames=names)


def test_random_hot_calls_answer_as_stock_moto(twin_targets):
    twin = _seeded_twin(twin_targets, 7)
    for client in (twin.fast, twin.stock):
        dlq = client.create_queue(QueueName="rejects-dlq")["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        client.create_queue(QueueName="rejects", Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": arn["Attributes"]["QueueArn"], "maxReceiveCount": 3})})
        client.create_queue(QueueName="plain")
    for name, seed in (("rejects", 1), ("plain", 2), ("rejects-dlq", 3)):
        traffic = Traffic(twin, name, seed)
        for _ in range(400):
            traffic.step()
        _same(twin, "get_queue_attributes", QueueUrl=name, AttributeNames=["All"])
    _same(twin, "get_queue_attributes", QueueUrl="rejects-dlq", AttributeNames=["All"])


def test_short_timeouts_delays_retention_and_purge_answer_as_stock(twin_targets):
    twin = _seeded_twin(twin_targets, 8)
    for client in (twin.fast, twin.stock):
        client.create_queue(QueueName="short")
        client.create_queue(QueueName="brief", Attributes={"MessageRetentionPeriod": "1"})
    traffic = Traffic(twin, "short", 5)
    receive = {"QueueUrl": "short", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
               "MessageSystemAttributeNames": ["All"]}
    _same(twin, "send_message_batch", QueueUrl="short", Entries=[
        {"Id": f"m{n}", "MessageBody": f"b{n}", "DelaySeconds": n % 2} for n in range(10)])
    _same(twin, "get_queue_attributes", QueueUrl="short", AttributeNames=["All"])
    _same(twin, "receive_message", **receive)  # the undelayed five
    _same(twin, "receive_message", **receive, VisibilityTimeout=1)
    time.sleep(1.3)  # every delay and visibility timeout above is over, on both servers
    _same(twin, "get_queue_attributes", QueueUrl="short", AttributeNames=["All"])
    got = _same(twin, "receive_message", **receive, VisibilityTimeout=1)
    traffic.handles = [m["ReceiptHandle"] for m in got[1]["Messages"]]
    for _ in range(30):
        traffic.step()
    time.sleep(1.2)
    _same(twin, "receive_message", **receive)
    _same(twin, "purge_queue", QueueUrl="short")
    _same(twin, "get_queue_attributes", QueueUrl="short", AttributeNames=["All"])
    _same(twin, "receive_message", **receive)
    # Past retention: moto marks the first message received, returns nothing, then skips it.
    _same(twin, "send_message_batch", QueueUrl="brief", Entries=[
        {"Id": f"m{n}", "MessageBody": f"b{n}"} for n in range(3)])
    time.sleep(1.1)
    _same(twin, "send_message", QueueUrl="brief", MessageBody="fresh")
    for _ in range(3):
        _same(twin, "receive_message", QueueUrl="brief", MaxNumberOfMessages=10,
              VisibilityTimeout=30, MessageSystemAttributeNames=["All"])
    _same(twin, "get_queue_attributes", QueueUrl="brief", AttributeNames=["All"])


def test_fifo_queues_stay_on_moto_and_answer_as_stock(twin_targets):
    twin = _seeded_twin(twin_targets, 9)
    for client in (twin.fast, twin.stock):
        client.create_queue(QueueName="ordered.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "true"})
    rng = random.Random(4)
    handles: list[str] = []
    for n in range(40):
        _same(twin, "send_message", QueueUrl="ordered.fifo", MessageBody=f"b{n % 7}",
              MessageGroupId=rng.choice("ab"))
        if n % 3 == 0:
            got = _same(twin, "receive_message", QueueUrl="ordered.fifo", MaxNumberOfMessages=3,
                        VisibilityTimeout=rng.choice([0, 60]))
            handles += [m["ReceiptHandle"] for m in (got[1] or {}).get("Messages", [])]
        if n % 5 == 0 and handles:
            _same(twin, "delete_message", QueueUrl="ordered.fifo",
                  ReceiptHandle=handles.pop(rng.randrange(len(handles))))
    _same(twin, "get_queue_attributes", QueueUrl="ordered.fifo", AttributeNames=["All"])


def _query(target, params: dict) -> tuple[int, bytes]:
    """A Query-protocol call (form-encoded, XML back), as older SDKs send it."""
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"}).encode()
    request = urllib.request.Request(target.endpoint_url + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/"
                         "us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_query_protocol_answers_as_stock_moto(twin_targets):
    import re

    fast, stock = twin_targets
    for target in (fast, stock):
        _seed(target, 10)

    def same(**params):
        got, want = (_query(t, params) for t in (fast, stock))
        # Request ids, each server's port and the wall-clock moments it stamped.
        scrub = [re.sub(rb"<RequestId>[^<]*</RequestId>|127\.0\.0\.1:\d+|<Value>\d{13}</Value>"
                        rb"|<Value>\d{10}(\.\d+)?</Value>", b"", body) for _, body in (got, want)]
        assert (got[0], scrub[0]) == (want[0], scrub[1]), params
        return got[1].decode()

    same(Action="CreateQueue", QueueName="old-sdk")
    url = "old-sdk"
    for n in range(12):
        same(Action="SendMessage", QueueUrl=url, MessageBody=f"m{n}")
    same(Action="SendMessageBatch", QueueUrl=url, **{
        f"SendMessageBatchRequestEntry.{n}.{k}": v for n in (1, 2)
        for k, v in (("Id", f"b{n}"), ("MessageBody", f"batch {n}"))})
    text = same(Action="ReceiveMessage", QueueUrl=url, MaxNumberOfMessages="4",
                VisibilityTimeout="60", **{"AttributeName.1": "All"})
    handles = re.findall(r"<ReceiptHandle>([^<]+)</ReceiptHandle>", text)
    assert len(handles) == 4
    same(Action="ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=handles[0],
         VisibilityTimeout="0")
    same(Action="DeleteMessage", QueueUrl=url, ReceiptHandle=handles[1])
    same(Action="DeleteMessageBatch", QueueUrl=url, **{
        "DeleteMessageBatchRequestEntry.1.Id": "a",
        "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handles[2],
        "DeleteMessageBatchRequestEntry.2.Id": "b",
        "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "nope"})
    same(Action="ChangeMessageVisibilityBatch", QueueUrl=url, **{
        "ChangeMessageVisibilityBatchRequestEntry.1.Id": "a",
        "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle": handles[3],
        "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": "0"})
    same(Action="ReceiveMessage", QueueUrl=url, MaxNumberOfMessages="10")
    same(Action="GetQueueAttributes", QueueUrl=url, **{"AttributeName.1": "All"})


# ---------------------------------------------------------------------------------------------
# In process, with a fake clock: each side runs in a fresh interpreter (the patches are
# class-wide), `python tests/test_emulator_sqs.py replay|scale ...`.

def _run_here(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_fake_clock_replay_equals_stock_moto_at_exact_boundaries():
    for seed in (1, 2, 3):
        fast = _run_here("replay", "fast", str(seed))
        stock = _run_here("replay", "stock", str(seed))
        assert len(fast["steps"]) == len(stock["steps"])
        for n, (got, want) in enumerate(zip(fast["steps"], stock["steps"])):
            assert got == want, f"seed {seed}, step {n}"


def test_index_stays_whole_and_bounded_over_100k_messages():
    report = _run_here("scale", "100000")
    assert report["mismatches"] == [], report["mismatches"][:5]
    assert report["checks"] >= 20
    assert report["received"] >= 100_000 and report["sent"] == 100_000
    # What the index handled, per message sent, received, re-timed or deleted: a constant
    # (stock moto walks the whole queue for each of them).
    assert report["touched"] <= 30 * report["operations"], report
    assert report["final"] == {"visible": 0, "hidden": 0, "delayed": 0, "stored": 0}


if __name__ == "__main__":
    from helpers import sqs_inprocess

    print(json.dumps(sqs_inprocess.main(sys.argv[1:])))
