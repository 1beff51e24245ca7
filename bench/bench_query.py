"""The emulator at full-dataset scale: how its data plane behaves from empty to 541,909 items
and records, and what memory that takes. A benchmark, not a test: it prints figures measured
in this one run. The machine is shared and noisy, so every comparison that matters is made
interleaved (A, B, A, B, ...) rather than one phase after another.

1. stock moto (the same emulator with its fast path off), on a 10k slice, for the ratios:
   BatchWriteItem of 25 and PutRecords of 500 from one client, Query of 100 at 10k items;
2. `orderhist up` (a temporary --home), then on its emulator:
   - PutRecords of 500 of every line into a scratch stream, per-block rates as it fills, then
     an empty stream and the full one alternately: rate at 0 vs 541,909 records;
   - GetRecords drain of the full stream (Limit 10,000), boto3 and unparsed;
   - BatchWriteItem of 25 of every line into the stack's table (and 10k / 100k into two
     more tables), then an empty table and the full one alternately;
   - Query of 100 newest first for the heaviest customer of each table, the three tables
     alternately (boto3 round trip; the same request unparsed over a kept-alive connection;
     the emulator's handler time), a GSI query, and `orderhist orders` as a whole process;
   - the emulator's RSS, now and at its peak.

    python bench/bench_query.py [--source FILE] [--rows N] [--queries 300] [--stock-rows 10000]
"""
from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from orderhist import aws, emulator, records, schema

BLOCK = 50_000
TABLE = "orderhist-orders"


def heaviest(items, count: int = 1) -> list[str]:
    counts = Counter(i["CustomerID"]["S"] for i in items)
    return [c for c, _ in counts.most_common() if not c.startswith(schema.GUEST_PREFIX)][:count]


def query_body(table: str, customer: str) -> dict:
    return {"TableName": table, "KeyConditionExpression": "CustomerID = :c",
            "ExpressionAttributeValues": {":c": {"S": customer}},
            "ScanIndexForward": False, "Limit": 100}


def interleaved_queries(target, bodies: dict, rounds: int) -> dict:
    """{label: {"boto3": [...], "raw": [...], "handler": [...], "items": n}}"""
    from botocore import parsers

    dynamodb, raw = aws.client("dynamodb", target), common.RawCaller(target, "dynamodb")
    parser = parsers.create_parser("json")
    shape = dynamodb.meta.service_model.operation_model("Query").output_shape
    out = {label: {"boto3": [], "raw": [], "handler": [], "parse": [], "items": 0}
           for label in bodies}
    for body in bodies.values():
        dynamodb.query(**body)  # warm
    for _ in range(rounds):
        for label, body in bodies.items():
            started = time.perf_counter()
            reply = dynamodb.query(**body)
            out[label]["boto3"].append(time.perf_counter() - started)
            out[label]["items"] = len(reply["Items"])
            trip, spent, payload = raw.call("Query", body)
            out[label]["raw"].append(trip)
            out[label]["handler"].append(spent)
            # boto3's own share: parsing the very reply, no server involved
            started = time.perf_counter()
            parser.parse({"body": payload, "headers": {}, "status_code": 200}, shape)
            out[label]["parse"].append(time.perf_counter() - started)
    return out


def report(label: str, result: dict) -> None:
    handler = (f"; handler {common.summary_ms(result['handler'])}"
               if result["handler"] and result["handler"][0] == result["handler"][0] else "")
    print(f"  {label}: {result['items']} items; boto3 {common.summary_ms(result['boto3'])}; "
          f"unparsed {common.summary_ms(result['raw'])}{handler}; boto3's parsing alone "
          f"{common.summary_ms(result['parse'])}", flush=True)


def alternate(rounds: int, empty_call, full_call) -> tuple[float, float]:
    """Mean rate of two writers called alternately, so both see the same machine."""
    empty, full = [], []
    for _ in range(rounds):
        empty.append(empty_call())
        full.append(full_call())
    return statistics.mean(empty), statistics.mean(full)


def stock_slice(lines, rows: int, rounds: int) -> dict:
    home, target = common.start_emulator(fast=False)
    try:
        dynamodb, kinesis = aws.client("dynamodb", target), aws.client("kinesis", target)
        common.make_table(dynamodb, "stock")
        common.make_stream(kinesis, "stock")
        items = common.items_of(lines[:rows])
        write_s = common.batch_write(dynamodb, "stock", items)
        datas = [records.to_log_line(line).encode() for line in lines[:rows]]
        put_s = common.put_records(kinesis, "stock", datas, [str(i) for i in range(len(datas))])
        timed = interleaved_queries(target, {"stock": query_body("stock", heaviest(items)[0])},
                                    rounds)["stock"]
        return {"write_rate": len(items) / write_s, "put_rate": len(datas) / put_s,
                "query": timed, "rows": len(items)}
    finally:
        emulator.stop(home)


def fill_stream(kinesis, target, stream: str, lines) -> None:
    datas = [records.to_log_line(line).encode() for line in lines]
    keys = [line.partition_key for line in lines]
    rates, cpu = [], []
    for start in range(0, len(datas), BLOCK):
        before = common.stats(target)["cpu_s"]
        seconds = common.put_records(kinesis, stream, datas[start:start + BLOCK],
                                     keys[start:start + BLOCK])
        count = len(datas[start:start + BLOCK])
        rates.append(count / seconds)
        cpu.append((common.stats(target)["cpu_s"] - before) / count * 1e6)
    print(f"PutRecords of 500, per {BLOCK:,}-record block as one shard fills to {len(datas):,}: "
          + ", ".join(f"{r:,.0f}" for r in rates) + " records/s (mean "
          f"{statistics.mean(rates):,.0f}); emulator CPU per record per block: "
          + ", ".join(f"{c:.0f}" for c in cpu) + " us", flush=True)
    common.make_stream(kinesis, "bench-empty")
    sample, sample_keys = datas[:5_000], keys[:5_000]
    at_empty, at_full = alternate(
        6, lambda: 5_000 / common.put_records(kinesis, "bench-empty", sample, sample_keys),
        lambda: 5_000 / common.put_records(kinesis, stream, sample, sample_keys))
    print(f"PutRecords alternately into an empty shard and the full one: {at_empty:,.0f} vs "
          f"{at_full:,.0f} records/s (full/empty {at_full / at_empty:.2f})", flush=True)


def drain(kinesis, target, stream: str) -> None:
    for label in ("boto3", "unparsed"):
        raw = common.RawCaller(target, "kinesis")
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        started, count = time.perf_counter(), 0
        while True:
            if label == "boto3":
                reply = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                got, iterator = len(reply["Records"]), reply["NextShardIterator"]
            else:
                import json

                body = json.loads(raw.call("GetRecords", {"ShardIterator": iterator,
                                                          "Limit": 10_000})[2])
                got, iterator = len(body["Records"]), body["NextShardIterator"]
                sum(len(base64.b64decode(r["Data"])) for r in body["Records"])
            count += got
            if not got:
                break
        seconds = time.perf_counter() - started
        print(f"GetRecords drain (Limit 10,000), {label}: {count:,} records in {seconds:.1f} s "
              f"= {count / seconds:,.0f} records/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=None, help="default: the whole file")
    parser.add_argument("--queries", type=int, default=300, help="rounds of interleaved queries")
    parser.add_argument("--stock-rows", type=int, default=10_000)
    args = parser.parse_args()
    source = args.source or common.default_source()
    print(f"machine: {common.machine()}")
    lines = common.dataset_lines(source, args.rows)
    print(f"dataset: {source.name}, {len(lines):,} lines", flush=True)

    stock = stock_slice(lines, args.stock_rows, max(20, args.queries // 10))
    print(f"stock moto, {stock['rows']:,} items: BatchWriteItem {stock['write_rate']:,.0f} "
          f"items/s, PutRecords {stock['put_rate']:,.0f} records/s", flush=True)
    report(f"stock Query 100 newest at {stock['rows']:,} items", stock["query"])

    home = Path(tempfile.mkdtemp(prefix="orderhist-bench-query-"))
    common.orderhist(home, "up")
    target = common.stack_endpoint(home)
    try:
        kinesis, dynamodb = aws.client("kinesis", target), aws.client("dynamodb", target)
        common.make_stream(kinesis, "bench-scratch")
        fill_stream(kinesis, target, "bench-scratch", lines)
        drain(kinesis, target, "bench-scratch")

        items = common.items_of(lines)
        sizes = {"10k": min(10_000, len(items)), "100k": min(100_000, len(items)),
                 f"{len(items) // 1000}k": len(items)}
        tables = {label: (TABLE if n == len(items) else f"bench-{label}")
                  for label, n in sizes.items()}
        write_rates = []
        for label, n in sorted(sizes.items(), key=lambda pair: -pair[1]):  # the full one first
            if tables[label] != TABLE:
                common.make_table(dynamodb, tables[label])
            for start in range(0, n, BLOCK):
                chunk = items[start:min(n, start + BLOCK)]
                rate = len(chunk) / common.batch_write(dynamodb, tables[label], chunk)
                if tables[label] == TABLE:
                    write_rates.append(rate)
            if tables[label] == TABLE:
                info = common.stats(target)
                print(f"emulator at {n:,} items and {len(lines):,} records: RSS "
                      f"{info['rss_kb'] / 1024:,.0f} MB, peak {info['peak_rss_kb'] / 1024:,.0f} MB",
                      flush=True)
        print("BatchWriteItem of 25, one client, per block as the table fills: "
              + ", ".join(f"{r:,.0f}" for r in write_rates) + f" items/s; mean "
              f"{statistics.mean(write_rates):,.0f} = "
              f"{statistics.mean(write_rates) / stock['write_rate']:.1f}x stock", flush=True)
        common.make_table(dynamodb, "bench-empty")
        sample = [dict(i, SK={"S": "again#" + i["SK"]["S"]}) for i in items[:2_500]]
        at_empty, at_full = alternate(
            6, lambda: 2_500 / common.batch_write(dynamodb, "bench-empty", sample),
            lambda: 2_500 / common.batch_write(dynamodb, TABLE, sample))
        print(f"BatchWriteItem alternately into an empty table and the full one: "
              f"{at_empty:,.0f} vs {at_full:,.0f} items/s", flush=True)

        bodies, customers = {}, {}
        for label, n in sizes.items():
            customers[label] = heaviest(items[:n])[0]
            bodies[label] = query_body(tables[label], customers[label])
        print(f"Query of 100 newest first, heaviest customer of each table, {args.queries} "
              f"interleaved rounds:")
        results = interleaved_queries(target, bodies, args.queries)
        for label, n in sizes.items():
            size = sum(1 for i in items[:n] if i["CustomerID"]["S"] == customers[label])
            report(f"{n:,} items, customer {customers[label]} ({size:,} items)", results[label])
        small, large = results["10k"], results[list(sizes)[-1]]
        print("  p99 at full size / p99 at 10k: " + ", ".join(
            f"{kind} {common.pct(large[kind], 99) / common.pct(small[kind], 99):.2f}"
            for kind in ("boto3", "raw", "handler", "parse")))
        print(f"  stock at {stock['rows']:,} items (same request, earlier): boto3 p99 "
              f"{common.pct(stock['query']['boto3'], 99) * 1000:.0f} ms")
        invoice = Counter(i["InvoiceNo"]["S"] for i in items).most_common(1)[0]
        gsi = interleaved_queries(target, {"gsi": {
            "TableName": TABLE, "IndexName": "ByInvoice",
            "KeyConditionExpression": "InvoiceNo = :i",
            "ExpressionAttributeValues": {":i": {"S": invoice[0]}}, "Limit": 100}},
            args.queries // 2)["gsi"]
        report(f"GSI Query 100, invoice {invoice[0]} ({invoice[1]:,} lines)", gsi)
        # The heaviest customer, the 200th heaviest and the median one (by lines held).
        ranked = heaviest(items, 10**6)
        for customer in (ranked[0], ranked[199], ranked[len(ranked) // 2]):
            for view in ((), ("--json",)):
                walls = []
                for _ in range(10):
                    started = time.perf_counter()
                    common.orderhist(home, "orders", "--customer", customer, *view)
                    walls.append(time.perf_counter() - started)
                size = sum(1 for i in items if i["CustomerID"]["S"] == customer)
                print(f"orderhist orders --customer {customer} {' '.join(view)}({size:,} items) "
                      f"as a process: median {statistics.median(walls) * 1000:.0f} ms, min "
                      f"{min(walls) * 1000:.0f} ms (10 runs)", flush=True)
        info = common.stats(target)
        print(f"emulator with {sum(sizes.values()):,} items in 3 tables and {len(lines):,} "
              f"records: RSS {info['rss_kb'] / 1024:,.0f} MB, peak "
              f"{info['peak_rss_kb'] / 1024:,.0f} MB, CPU {info['cpu_s']:.0f} s; requests "
              f"{info['requests']}")
    finally:
        common.orderhist(home, "down", "--yes")


if __name__ == "__main__":
    main()
