"""Benchmark of the local event-source-mapping runtime with the real handler (not a test).

Per round, on one emulator and with the very same order lines:
1. raw: this process writes the items straight into a fresh table with BatchWriteItem of 25,
   one call at a time (what the handler does per batch, without Kinesis or Lambda);
2. runtime: the lines sit in a fresh one-shard stream; `python -m orderhist runtime run`
   (a real process, with its container process running the deployed zip) reads them in
   batches of --batch-size and the handler writes them into another fresh table;
3. raw again, to bracket the machine's noise.
The runtime's rate is measured from its first checkpoint to its last (steady state) and from
process start (end to end, including start-up); a round's ratio is steady / mean raw, and the
median over rounds is the result. The emulator's CPU seconds per item are reported too: on a
shared machine they are disturbed far less than wall-clock rates.

    python bench/bench_runtime.py [--records 4000] [--batch-size 100] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from orderhist import aws, emulator, processes, records, schema
from orderhist.function import build
from orderhist.function.handler import HANDLER
from orderhist.runtime import read_stats
from orderhist.runtime.checkpoint import checkpoint_dir
from orderhist.state import Home

REGION = "us-east-1"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def order_lines(count: int) -> list[str]:
    lines = []
    for n in range(1, count + 1):
        lines.append(records.to_log_line(records.OrderLine(
            invoice_no=f"5{n // 12:05d}", stock_code=f"{85000 + n % 400}A",
            description=f"WHITE HANGING HEART T-LIGHT HOLDER {n % 37}",
            quantity=n % 12 + 1, invoice_date="2010-12-01T08:26:00",
            unit_price=Decimal("2.55"), customer_id=str(12346 + n % 4000),
            country="United Kingdom", line_no=n, emitted_at=records.utc_now_iso_ms())))
    return lines


def create_table(dynamodb, name: str) -> None:
    dynamodb.create_table(**schema.table_shape(name))


def raw_rate(target: aws.Target, table: str, lines: list[str], cpu: EmulatorCpu) -> tuple:
    dynamodb = aws.client("dynamodb", target)
    create_table(dynamodb, table)
    stamp = records.utc_now_iso_ms()
    items = [records.to_item(records.parse_log_line(line), stamp) for line in lines]
    started, cpu_started = time.perf_counter(), cpu()
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        while requests:
            reply = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = reply.get("UnprocessedItems", {}).get(table, [])
    return len(items) / (time.perf_counter() - started), (cpu() - cpu_started) / len(items)


class EmulatorCpu:
    """CPU seconds the emulator process has used: a measure the other load on a shared
    machine disturbs much less than wall-clock rates."""

    def __init__(self, pid: int):
        self.path = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK")

    def __call__(self) -> float:
        fields = self.path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick


def progress(work_dir: Path) -> int:
    # One shard, numbered as AWS shapes it (49 x 10^54 + shard x 10^34 + 1, 2, 3, ...): the
    # checkpoint's low part is the count done.
    total = 0
    for path in checkpoint_dir(work_dir).glob("*/*.json"):
        try:
            total += int(json.loads(path.read_text()).get("sequenceNumber") or 0) % 10**34
        except ValueError:
            pass
    return total


def stored_count(dynamodb, table: str) -> int:
    count, request = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        reply = dynamodb.scan(**request)
        count += reply["Count"]
        if "LastEvaluatedKey" not in reply:
            return count
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def runtime_rate(target: aws.Target, name: str, lines: list[str], batch_size: int,
                 scratch: Path, cpu: EmulatorCpu) -> dict:
    clients = {s: aws.client(s, target) for s in ("iam", "kinesis", "lambda", "dynamodb")}
    create_table(clients["dynamodb"], f"{name}-orders")
    role = clients["iam"].create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)
    clients["lambda"].create_function(
        FunctionName=f"{name}-ingest", Role=role["Role"]["Arn"], Handler=HANDLER,
        Runtime="python3.12", Code={"ZipFile": build.build_zip()}, Timeout=60,
        Environment={"Variables": {"TABLE_NAME": f"{name}-orders"}})
    kinesis = clients["kinesis"]
    kinesis.create_stream(StreamName=f"{name}-orders", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=f"{name}-orders")
    put_started = time.perf_counter()
    for start in range(0, len(lines), 500):
        kinesis.put_records(StreamName=f"{name}-orders", Records=[
            {"Data": line.encode(), "PartitionKey": line.split(",", 1)[0]}
            for line in lines[start:start + 500]])
    put_seconds = time.perf_counter() - put_started
    stream_arn = kinesis.describe_stream_summary(StreamName=f"{name}-orders")[
        "StreamDescriptionSummary"]["StreamARN"]
    mapping = clients["lambda"].create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=f"{name}-ingest", StartingPosition="TRIM_HORIZON",
        BatchSize=batch_size, BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"])

    home = scratch / name
    home.mkdir()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(home), "runtime", "run",
         "--endpoint-url", target.endpoint_url], env=aws.local_child_environment(REGION),
        stdout=subprocess.DEVNULL, stderr=open(home / "runtime.log", "wb"))
    first = None
    try:
        while True:
            done = progress(home / "runtime")
            now = time.perf_counter()
            if first is None and done:
                first = (now, done, cpu())
            if done >= len(lines):
                break
            if now - started > 600 or process.poll() is not None:
                raise SystemExit(f"the runtime stalled at {done}; see {home / 'runtime.log'}")
            time.sleep(0.05)  # watching must not take the CPU the runtime needs
    finally:
        process.terminate()
        process.wait(30)
        clients["lambda"].delete_event_source_mapping(UUID=mapping["UUID"])
    stats = read_stats(home / "runtime")
    steady = (len(lines) - first[1]) / (now - first[0])
    cpu_per_item = (cpu() - first[2]) / (len(lines) - first[1])
    count = stored_count(clients["dynamodb"], f"{name}-orders")
    return {"steady": steady, "end_to_end": len(lines) / (now - started), "stored": count,
            "cpu_per_item": cpu_per_item,
            "invocations": stats["invocations"], "errors": stats["errors"],
            "put_rate": len(lines) / put_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = order_lines(args.records)
    scratch = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    home = Home(scratch / "emulator")
    home.make_dirs()
    endpoint = emulator.start(home, aws.local_child_environment(REGION))
    target = aws.Target(aws.LOCAL, REGION, endpoint)
    cpu = EmulatorCpu(processes.read_pid(home, "emulator"))
    ratios, cpu_ratios = [], []
    try:
        print(f"{args.records} order lines per run, BatchSize {args.batch_size}, one shard, "
              f"{args.rounds} rounds of raw / runtime / raw; emulator {target.endpoint_url}")
        for round_no in range(1, args.rounds + 1):
            before, cpu_before = raw_rate(target, f"raw-a{round_no}", lines, cpu)
            result = runtime_rate(target, f"rt{round_no}", lines, args.batch_size, scratch, cpu)
            after, cpu_after = raw_rate(target, f"raw-b{round_no}", lines, cpu)
            ratio = result["steady"] / ((before + after) / 2)
            cpu_ratio = ((cpu_before + cpu_after) / 2) / result["cpu_per_item"]
            ratios.append(ratio)
            cpu_ratios.append(cpu_ratio)
            print(f"round {round_no}: raw BatchWriteItem {before:,.0f} / {after:,.0f} items/s; "
                  f"runtime+handler {result['steady']:,.0f} items/s steady "
                  f"({result['end_to_end']:,.0f} with start-up); ratio {ratio:.2f}; "
                  f"emulator CPU per 1000 items raw {cpu_before * 1000:.2f} / "
                  f"{cpu_after * 1000:.2f} s, runtime {result['cpu_per_item'] * 1000:.2f} s; "
                  f"stored {result['stored']:,}, {result['invocations']} invocations, "
                  f"{result['errors']} errors")
        print(f"median ratio runtime/raw (write rate): {statistics.median(ratios):.2f} "
              f"(target >= 0.70); rounds: {', '.join(f'{r:.2f}' for r in ratios)}")
        print(f"median ratio of emulator CPU per item, raw/runtime: "
              f"{statistics.median(cpu_ratios):.2f}")
    finally:
        emulator.stop(home)


if __name__ == "__main__":
    main()
