"""Lines of the dataset through the whole local pipeline (generator -> agent -> Kinesis ->
runtime -> Lambda handler -> DynamoDB), against the emulator's raw write rate in the same run.
A benchmark, not a test: it prints figures measured in this one run.

1. `orderhist up` in a temporary --home (with --faults: `up --faults RATE --fault-seed 1` if
   the CLI has the flag, else the same settings through the emulator's /_orderhist/faults);
2. raw: this process writes --raw-items items into a scratch table of the same emulator with
   BatchWriteItem of 25, one call at a time (what the handler does per batch), faults off;
3. `orderhist generate --source FILE --count N --wait --json`: wall time, lines/s, latency;
4. raw again (the machine is shared: bracket it), then the ratio end-to-end / mean raw;
5. exactly once: the table holds exactly the N lines' keys; the emulator's peak RSS, CPU,
   requests and injected faults.

    python bench/bench_ingest.py [--source FILE] [--count 541909] [--faults 0.1]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from orderhist import aws, emulator

RAW_TABLE = "bench-raw"


def raw_rate(target, lines, round_no: int, validate: bool = True) -> float:
    """One client's BatchWriteItem rate. validate=False is the handler's own client setting
    (no botocore parameter validation): the fastest a client can feed the emulator."""
    dynamodb = aws.client("dynamodb", target, parameter_validation=validate)
    items = common.items_of(lines)
    for item in items:  # a fresh key space per round: puts, not overwrites
        item["SK"] = {"S": f"r{round_no}{'v' if validate else 'n'}#{item['SK']['S']}"}
    return len(items) / common.batch_write(dynamodb, RAW_TABLE, items)


def cli_has_fault_flag() -> bool:
    import subprocess

    help_text = subprocess.run([sys.executable, "-m", "orderhist", "up", "--help"],
                               capture_output=True, text=True).stdout
    return "--faults" in help_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--count", type=int, default=541_909)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--raw-items", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    args = parser.parse_args()
    source = args.source or common.default_source()
    print(f"machine: {common.machine()}")
    home = Path(tempfile.mkdtemp(prefix="orderhist-bench-ingest-"))
    up_args = ["up"]
    via_cli = bool(args.faults) and cli_has_fault_flag()
    if via_cli:
        up_args += ["--faults", str(args.faults), "--fault-seed", "1"]
    started = time.perf_counter()
    common.orderhist(home, *up_args)
    print(f"orderhist up: {time.perf_counter() - started:.1f} s", flush=True)
    target = common.stack_endpoint(home)
    try:
        emulator.control(target.endpoint_url, "faults", {"rate": 0.0, "seed": 1})
        common.make_table(aws.client("dynamodb", target), RAW_TABLE)
        sample = common.dataset_lines(source, args.raw_items)
        raws = [raw_rate(target, sample, 0)]
        fastest = [raw_rate(target, sample, 0, validate=False)]
        print(f"raw BatchWriteItem of 25, one client, {len(sample):,} items: {raws[0]:,.0f} "
              f"items/s (default client), {fastest[0]:,.0f} items/s (no parameter "
              f"validation, as the handler's client)", flush=True)
        if args.faults:
            emulator.control(target.endpoint_url, "faults", {"rate": args.faults, "seed": 1})
            print(f"faults: rate {args.faults}, seed 1 "
                  f"({'up --faults' if via_cli else 'set through /_orderhist/faults'})")
        pids = common.stack_pids(home)
        cpu_before = {name: common.process_cpu_s(pid) for name, pid in pids.items()}
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = common.orderhist(home, "generate", "--source", str(source), "--count",
                                  str(args.count), "--wait", "--json", "--timeout",
                                  str(args.timeout), timeout=args.timeout + 600)
        wall = time.perf_counter() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = {name: common.process_cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu["generate (writer + --wait poller)"] = (
            children_after.ru_utime + children_after.ru_stime
            - children_before.ru_utime - children_before.ru_stime)
        summary = json.loads(result.stdout)
        faults = emulator.control(target.endpoint_url, "faults")
        emulator.control(target.endpoint_url, "faults", {"rate": 0.0, "seed": 1})
        rate = summary["lines"] / wall
        print(f"generate --count {args.count:,} --wait: {summary['lines']:,} lines, stored "
              f"{summary['stored']:,}, rejected {summary['rejected']:,}, in {wall:.1f} s "
              f"({wall / 60:.1f} min) = {rate:,.0f} lines/s end to end; latency ms "
              f"{summary['latency_ms']}", flush=True)
        print(f"CPU seconds during the run ({2 * wall:.0f} core-seconds on 2 cores): "
              + ", ".join(f"{name} {seconds:.0f}" for name, seconds in cpu.items()),
              flush=True)
        raws.append(raw_rate(target, sample, 1))
        fastest.append(raw_rate(target, sample, 1, validate=False))
        raw, raw_fastest = statistics.mean(raws), statistics.mean(fastest)
        print(f"raw again: {raws[1]:,.0f} / {fastest[1]:,.0f} items/s; end to end / mean raw "
              f"= {rate / raw:.2f} (default client), {rate / raw_fastest:.2f} (no validation)")
        table = aws.client("dynamodb", target).describe_table(
            TableName="orderhist-orders")["Table"]
        expected = {(line.partition_key, line.sort_key)
                    for line in common.dataset_lines(source, args.count)}
        print(f"table items {table['ItemCount']:,} for {len(expected):,} distinct line keys: "
              f"{'exactly once' if table['ItemCount'] == len(expected) else 'MISMATCH'}")
        info = common.stats(target)
        print(f"emulator: peak RSS {info['peak_rss_kb'] / 1024:,.0f} MB, RSS "
              f"{info['rss_kb'] / 1024:,.0f} MB, CPU {info['cpu_s']:.0f} s; requests "
              f"{info['requests']}; injected faults {faults['injected']}")
        busiest = sorted(info["request_cpu_s"].items(), key=lambda pair: -pair[1])[:6]
        print("emulator CPU by operation (s, in the dispatcher): "
              + ", ".join(f"{name} {seconds:.1f}" for name, seconds in busiest))
        status = json.loads(common.orderhist(home, "status", "--json").stdout)
        print(f"agent: {json.dumps(status.get('agent'))[:400]}")
        print(f"runtime: {json.dumps(status.get('runtime'))[:400]}")
    finally:
        common.orderhist(home, "down", "--yes")


if __name__ == "__main__":
    main()
