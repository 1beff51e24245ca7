"""The seed tutorial's consumer design against ours, on the same emulator and the same lines.
A benchmark, not a test: it prints figures measured in this one run.

- ours: `orderhist generate --count N --wait` through the whole local pipeline (agent,
  Kinesis, the runtime's batches, the handler's BatchWriteItem), timed end to end, the
  generator's start (reading the dataset file) included;
- the tutorial's consumer: the very records ours left in the stream, read from TRIM_HORIZON
  with a GetRecords of 100 each second and one PutItem per record, into a second table of
  the same shape - timed from its first read to its last write; and the same loop without
  the one-second pause (the most that design can do).

    python bench/bench_baseline.py [--source FILE] [--count 10000]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from orderhist import aws, records

STREAM = TABLE = "orderhist-orders"


def tutorial_consumer(target, table: str, expected: int, pause: float) -> float:
    """Seconds until `expected` records are stored, one PutItem each, 100 per read."""
    kinesis, dynamodb = aws.client("kinesis", target), aws.client("dynamodb", target)
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    started, stored = time.perf_counter(), 0
    while stored < expected:
        reply = kinesis.get_records(ShardIterator=iterator, Limit=100)
        iterator = reply["NextShardIterator"]
        for record in reply["Records"]:
            line = records.parse_wire(record["Data"])
            dynamodb.put_item(TableName=table,
                              Item=records.to_item(line, records.utc_now_iso_ms()))
            stored += 1
        if stored < expected:
            time.sleep(pause)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    source = args.source or common.default_source()
    print(f"machine: {common.machine()}")
    home = Path(tempfile.mkdtemp(prefix="orderhist-bench-baseline-"))
    common.orderhist(home, "up")
    target = common.stack_endpoint(home)
    try:
        started = time.perf_counter()
        summary = json.loads(common.orderhist(
            home, "generate", "--source", str(source), "--count", str(args.count), "--wait",
            "--json", "--timeout", "3600").stdout)
        ours = time.perf_counter() - started
        print(f"ours: {summary['stored']:,} of {args.count:,} lines stored in {ours:.1f} s = "
              f"{args.count / ours:,.0f} lines/s end to end (p50 latency "
              f"{summary['latency_ms']['p50']} ms)", flush=True)
        dynamodb = aws.client("dynamodb", target)
        results = {}
        for label, pause in (("tutorial (GetRecords of 100 each second)", 1.0),
                             ("tutorial without the pause", 0.0)):
            table = f"tutorial-{int(pause * 1000)}"
            common.make_table(dynamodb, table)
            seconds = tutorial_consumer(target, table, args.count, pause)
            results[label] = args.count / seconds
            print(f"{label}: {args.count:,} records in {seconds:.1f} s = "
                  f"{results[label]:,.0f} lines/s; ours is "
                  f"{args.count / ours / results[label]:.1f}x",
                  flush=True)
    finally:
        common.orderhist(home, "down", "--yes")


if __name__ == "__main__":
    main()
