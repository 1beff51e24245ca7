"""Benchmark of orderhist's agent against the embedded emulator (not a test).

1. Latency at a trickle: lines written at --rate lines/s to a followed file; for each line,
   the time from its write (after flush) to its PutRecords being accepted (the record's
   ApproximateArrivalTimestamp, stamped by the server on this same machine). The agent runs
   with the config `orderhist up` writes (maxBufferAgeMillis 100).
2. Throughput: a file of --lines order lines shipped by the agent (a real
   `python -m orderhist agent run` process, started before the file is written) vs. direct
   PutRecords calls of 500 of the very same records from this process, each into a fresh
   one-shard stream of the same emulator, --rounds times, alternating which goes first.

    python bench/bench_agent.py [--rate 10] [--seconds 30] [--lines 10000] [--rounds 6]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from orderhist import aws, emulator, records
from orderhist.agent import load_config, local_agent_config, read_checkpoints, read_stats
from orderhist.agent.processing import LineProcessor
from orderhist.state import Home

REGION = "us-east-1"
BUFFER_AGE_MS = 100


def order_line(line_no: int, rng: random.Random) -> str:
    customer = None if rng.random() < 0.25 else str(rng.randint(12346, 18287))
    line = records.OrderLine(
        invoice_no=str(536365 + line_no // 20), stock_code=f"{rng.randint(10000, 99999)}",
        description=rng.choice(['WHITE HANGING HEART T-LIGHT HOLDER', 'SET 7 BABUSHKA NESTING '
                                'BOXES', 'GLASS STAR FROSTED T-LIGHT HOLDER', 'HAND WARMER, '
                                'RED "RETROSPOT"', 'POSTAGE']),
        quantity=rng.randint(1, 24), invoice_date="2010-12-01T08:26:00",
        unit_price=Decimal(rng.choice(["2.55", "3.39", "7.65", "0.85"])), customer_id=customer,
        country="United Kingdom", line_no=line_no, emitted_at=records.utc_now_iso_ms(),
    )
    return records.to_log_line(line) + "\n"


class Bench:
    def __init__(self, root: Path):
        self.root = root
        self.home = Home(root / "emulator")
        self.home.make_dirs()
        self.endpoint = emulator.start(self.home, aws.local_child_environment(REGION))
        self.client = aws.client("kinesis", aws.Target(aws.LOCAL, REGION, self.endpoint))
        self.count = 0

    def close(self) -> None:
        emulator.stop(self.home)

    def stream(self) -> str:
        self.count += 1
        name = f"bench-{self.count}"
        self.client.create_stream(StreamName=name, ShardCount=1)
        self.client.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        return name

    def agent(self, stream: str, name: str) -> tuple[subprocess.Popen, Path, Path]:
        work = self.root / name
        (work / "logs").mkdir(parents=True)
        config = local_agent_config(log_dir=work / "logs", stream_name=stream,
                                    endpoint=self.endpoint, region=REGION,
                                    checkpoint_file=work / "checkpoints.json",
                                    buffer_age_ms=BUFFER_AGE_MS)
        (work / "agent.json").write_text(json.dumps(config))
        process = subprocess.Popen(
            [sys.executable, "-m", "orderhist", "--home", str(work / "home"), "agent", "run",
             "--config", str(work / "agent.json")],
            env=aws.local_child_environment(REGION), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(work / "agent.err", "wb"),
        )
        # Started once its first checkpoint is written; its start-up is not what is measured.
        wait(lambda: (work / "checkpoints.json").exists(), 30)
        return process, work / "logs" / "orders.log", work / "checkpoints.json"

    def read_all(self, stream: str) -> list[dict]:
        shard = self.client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = self.client.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        found = []
        while True:
            reply = self.client.get_records(ShardIterator=iterator, Limit=10000)
            found += reply["Records"]
            if not reply["Records"]:
                return found
            iterator = reply["NextShardIterator"]


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(interval)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def latency(bench: Bench, rate: float, seconds: float) -> dict:
    stream = bench.stream()
    process, log, _ = bench.agent(stream, "latency")
    rng = random.Random(1)
    written: dict[int, float] = {}
    try:
        with open(log, "a", encoding="utf-8") as handle:
            start = time.monotonic()
            for n in range(1, int(rate * seconds) + 1):
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
                handle.write(order_line(n, rng))
                handle.flush()
                written[n] = time.time()
        wait(lambda: len(bench.read_all(stream)) >= len(written), 30, 0.2)
    finally:
        stop(process)
    delays = []
    for record in bench.read_all(stream):
        line_no = records.parse_wire(record["Data"]).line_no
        delays.append((record["ApproximateArrivalTimestamp"].timestamp() - written[line_no])
                      * 1000)
    return {"lines": len(written), "rate": rate, "buffer_age_ms": BUFFER_AGE_MS,
            "p50_ms": round(percentile(delays, 0.5), 1),
            "p99_ms": round(percentile(delays, 0.99), 1),
            "max_ms": round(max(delays), 1), "bound_ms": BUFFER_AGE_MS + 100}


def direct(bench: Bench, payload: list[dict]) -> float:
    stream = bench.stream()
    started = time.monotonic()
    for i in range(0, len(payload), 500):
        reply = bench.client.put_records(StreamName=stream, Records=payload[i:i + 500])
        assert reply["FailedRecordCount"] == 0
    return len(payload) / (time.monotonic() - started)


BUSY: list[float] = []  # the agent's share of each run spent with a PutRecords in flight


def shipped(bench: Bench, text: str, lines: int, round_no: int) -> float:
    stream = bench.stream()
    process, log, checkpoint_file = bench.agent(stream, f"throughput-{round_no}")
    size = len(text.encode("utf-8"))
    try:
        started = time.monotonic()
        log.write_text(text, encoding="utf-8")

        def done() -> bool:
            saved = read_checkpoints(checkpoint_file)
            return any(f.offset == size for files in saved.values() for f in files)
        wait(done, 300)
        elapsed = time.monotonic() - started
    finally:
        stop(process)
    stats = read_stats(checkpoint_file.with_name(checkpoint_file.name + ".stats.json"))
    BUSY.append(stats["put_seconds"] / elapsed)
    if stats["retries"] or stats["put_calls"] > -(-lines // 500) + 1:
        print(f"  (agent made {stats['put_calls']} calls, {stats['retries']} retries: "
              f"{stats['last_error']})", flush=True)
    assert len(bench.read_all(stream)) >= lines
    return lines / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        bench = Bench(Path(tmp))
        try:
            result = latency(bench, args.rate, args.seconds)
            print(f"latency at {args.rate:g} lines/s, {result['lines']} lines, "
                  f"maxBufferAgeMillis {BUFFER_AGE_MS}: p50 {result['p50_ms']} ms, "
                  f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
                  f"(bound {result['bound_ms']} ms; p99/bound "
                  f"{result['p99_ms'] / result['bound_ms']:.2f})", flush=True)

            rng = random.Random(2)
            text = "".join(order_line(n, rng) for n in range(1, args.lines + 1))
            (Path(tmp) / "cfg").mkdir()
            config_path = Path(tmp) / "cfg" / "agent.json"
            config_path.write_text(json.dumps(local_agent_config(
                log_dir=Path(tmp) / "cfg", stream_name="x", endpoint=bench.endpoint,
                region=REGION, checkpoint_file=Path(tmp) / "cfg" / "cp.json")))
            processor = LineProcessor(load_config(config_path).flows[0])
            payload = []
            for line in text.splitlines(keepends=True):
                converted = processor.convert(line.encode("utf-8"))
                payload.append({"Data": converted.data, "PartitionKey": converted.partition_key})
            rates = {"direct": [], "agent": []}
            ratios = []
            for round_no in range(args.rounds):
                # Alternate which goes first: the machine's load drifts within a round too.
                if round_no % 2 == 0:
                    direct_rate = direct(bench, payload)
                    agent_rate = shipped(bench, text, args.lines, round_no)
                else:
                    agent_rate = shipped(bench, text, args.lines, round_no)
                    direct_rate = direct(bench, payload)
                rates["direct"].append(direct_rate)
                rates["agent"].append(agent_rate)
                ratios.append(agent_rate / direct_rate)
                print(f"round {round_no + 1}: direct PutRecords x500 {direct_rate:,.0f} "
                      f"records/s, agent {agent_rate:,.0f} records/s, ratio {ratios[-1]:.2f} "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
            print(f"throughput, {args.lines} lines ({len(text.encode()) / 1e6:.1f} MB) per run, "
                  f"{args.rounds} rounds: median direct "
                  f"{statistics.median(rates['direct']):,.0f} records/s, median agent "
                  f"{statistics.median(rates['agent']):,.0f} records/s; agent/direct median "
                  f"{statistics.median(ratios):.2f}, best {max(ratios):.2f}, worst "
                  f"{min(ratios):.2f} (target >= 0.90)")
            best = max(rates["agent"]) / max(rates["direct"])
            print(f"best of {args.rounds}: direct {max(rates['direct']):,.0f} records/s, agent "
                  f"{max(rates['agent']):,.0f} records/s, agent/direct {best:.2f}; the agent "
                  f"had a PutRecords call in flight {statistics.median(BUSY):.0%} of the time "
                  f"(median), the rest is its own overhead")
        finally:
            bench.close()


if __name__ == "__main__":
    os.environ.update(aws.local_child_environment(REGION))
    main()
