"""Rejects at scale, through the whole local pipeline (real CLI, emulator, agent, runtime):
how long the handler takes to refuse a flood of poison, how good lines fare meanwhile, and
what `rejects --json` and `generate --wait --timeout 10` cost once tens of thousands are kept.
A benchmark, not a test: figures from this one run.

    python bench/bench_rejects.py [--first 3000] [--flood 10000] [--total 30000]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from orderhist import aws
from orderhist.rejects import count_refused


def put_poison(target: aws.Target, stream: str, count: int, offset: int) -> None:
    kinesis = aws.client("kinesis", target)
    for start in range(0, count, 500):
        size = min(500, count - start)
        reply = kinesis.put_records(StreamName=stream, Records=[
            {"Data": b"garbage\n", "PartitionKey": str(offset + start + n)} for n in range(size)])
        assert reply["FailedRecordCount"] == 0


def wait_refused(target: aws.Target, table: str, count: int) -> float:
    started = time.monotonic()
    while count_refused(target, table) < count:
        time.sleep(0.2)
    return time.monotonic() - started


def timed(home: Path, *args: str) -> tuple[float, str]:
    started = time.monotonic()
    result = common.orderhist(home, *args)
    return time.monotonic() - started, result.stdout


def list_rejects(home: Path, expected: int) -> None:
    took, out = timed(home, "rejects", "--json")
    print(f"  rejects --json with {expected:,} kept: {took:.2f} s, {len(json.loads(out)):,} "
          "entries listed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first", type=int, default=3_000)
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=30_000)
    args = parser.parse_args()
    print(f"machine: {common.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        common.orderhist(home, "up")
        try:
            state = json.loads((home / "state.json").read_text())
            target = common.stack_endpoint(home)
            stream, table = state["resources"]["stream"]["id"], state["resources"]["table"]["id"]

            put_poison(target, stream, args.first, 0)
            took = wait_refused(target, table, args.first)
            print(f"{args.first:,} poison records refused in {took:.1f} s")
            list_rejects(home, args.first)

            # A flood of poison, and 100 good lines written while it is being refused.
            flood = threading.Thread(target=put_poison,
                                     args=(target, stream, args.flood, args.first))
            started = time.monotonic()
            flood.start()
            _, out = timed(home, "generate", "--count", "100", "--wait", "--json")
            flood.join()
            latency = json.loads(out)["latency_ms"]
            took = wait_refused(target, table, args.first + args.flood) + \
                (time.monotonic() - started)
            print(f"{args.flood:,} poison records put and refused in {took:.1f} s "
                  f"({args.flood / took:,.0f}/s); 100 good lines meanwhile: latency "
                  f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms")

            rest = args.total - args.first - args.flood
            put_poison(target, stream, rest, args.first + args.flood)
            wait_refused(target, table, args.total)
            list_rejects(home, args.total)
            took, out = timed(home, "generate", "--count", "2000", "--wait", "--timeout", "10",
                              "--json")
            summary = json.loads(out)
            print(f"  generate --count 2000 --wait --timeout 10 with {args.total:,} kept: "
                  f"{took:.1f} s wall, stored {summary['stored']}, missing {summary['missing']}, "
                  f"p99 {summary['latency_ms']['p99']} ms")
            took, out = timed(home, "status", "--json")
            print(f"  status --json: {took:.2f} s, rejects {json.loads(out)['rejects']:,}")
        finally:
            common.orderhist(home, "down")


if __name__ == "__main__":
    main()
