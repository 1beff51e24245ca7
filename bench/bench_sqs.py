"""The emulator's SQS hot calls at 10, 10,000 and 100,000 messages in the queue, fast vs stock
moto in one run: time per SendMessageBatch(10), ReceiveMessage(10), ChangeMessageVisibilityBatch
(10), DeleteMessageBatch(10) and GetQueueAttributes(All), and the ratios.

Both queues are filled the same way, through a redrive: ten messages at a time are sent to a
small source queue, received once, and moved to the measured queue (its dead-letter queue) by
the next receive. Filling stock moto by SendMessage would take hours at 100,000 (each send walks
the queue), while a move costs it no more than the small source queue.

    python bench/bench_sqs.py [--sizes 10,10000,100000] [--reps 20] [--stock-reps 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, start_emulator

from orderhist import aws, emulator

CALLS = ("SendMessageBatch", "ReceiveMessage", "ChangeMessageVisibilityBatch",
         "DeleteMessageBatch", "GetQueueAttributes")


def sqs_client(target):
    # Stock moto takes tens of seconds per receive at 100,000 messages.
    return aws.client("sqs", target, connect_timeout=5, read_timeout=900,
                      retries={"max_attempts": 1, "mode": "standard"})


def make_queues(sqs) -> tuple[str, str]:
    measured = sqs.create_queue(QueueName="measured")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=measured, AttributeNames=["QueueArn"])
    source = sqs.create_queue(QueueName="source", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn["Attributes"]["QueueArn"], "maxReceiveCount": 1})})["QueueUrl"]
    return source, measured


def fill(sqs, source: str, count: int) -> None:
    for n in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=source, Entries=[
            {"Id": str(i), "MessageBody": f"garbage {n + i}"} for i in range(10)])
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0)
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)  # moves them


def depth(sqs, url: str) -> int:
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(got[k]) for k in ("ApproximateNumberOfMessages",
                                     "ApproximateNumberOfMessagesNotVisible"))


def one_round(sqs, url: str) -> dict[str, float]:
    """Each hot call once; the queue's size is the same before and after."""
    spent = {}

    def timed(name, call, **params):
        started = time.perf_counter()
        reply = call(**params)
        spent[name] = time.perf_counter() - started
        return reply

    timed("SendMessageBatch", sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"poison {i}"} for i in range(10)])
    got = timed("ReceiveMessage", sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=10,
                VisibilityTimeout=600, MessageSystemAttributeNames=["All"])["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    timed("ChangeMessageVisibilityBatch", sqs.change_message_visibility_batch, QueueUrl=url,
          Entries=[{**e, "VisibilityTimeout": 900} for e in entries])
    timed("DeleteMessageBatch", sqs.delete_message_batch, QueueUrl=url, Entries=entries)
    timed("GetQueueAttributes", sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
    return spent


def measure(target, sizes: list[int], reps: int, label: str) -> dict:
    sqs = sqs_client(target)
    source, url = make_queues(sqs)
    results, filled = {}, 0
    for size in sizes:
        started = time.perf_counter()
        fill(sqs, source, size - filled)
        filled = size
        fill_s = time.perf_counter() - started
        rounds = [one_round(sqs, url) for _ in range(reps if size < 100_000 else max(1, reps // 2))]
        results[size] = {name: statistics.median(r[name] for r in rounds) for name in CALLS}
        print(f"  {label} at {depth(sqs, url):,} messages (filled in {fill_s:.0f} s, "
              f"{len(rounds)} rounds): " + ", ".join(
                  f"{name} {results[size][name] * 1e3:.1f} ms" for name in CALLS), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000,100000")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--stock-reps", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(machine(), flush=True)
    measured = {}
    for fast, reps in ((True, args.reps), (False, args.stock_reps)):
        home, target = start_emulator(fast=fast)
        try:
            measured[fast] = measure(target, sizes, reps, "fast " if fast else "stock")
            rss = emulator.control(target.endpoint_url, "stats")["rss_kb"] / 1024
            print(f"  RSS {rss:.0f} MB", flush=True)
        finally:
            emulator.stop(home)
    print("\nmedian ms per call, fast / stock (stock / fast)")
    print("| call | " + " | ".join(f"{s:,} messages" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name in CALLS:
        cells = []
        for size in sizes:
            f, s = measured[True][size][name], measured[False][size][name]
            cells.append(f"{f * 1e3:.1f} / {s * 1e3:,.1f} ({s / f:,.0f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    last, first = sizes[-1], sizes[0]
    print(f"\nfast, {last:,} / {first:,} messages: " + ", ".join(
        f"{name} {measured[True][last][name] / measured[True][first][name]:.2f}"
        for name in CALLS))


if __name__ == "__main__":
    main()
