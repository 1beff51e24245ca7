"""End-to-end latency of a trickle: R lines/s through the whole local pipeline, from the moment
a line is written to the host's log (EmittedAt) to the moment it is stored (StoredAt), as
`generate --rate R --wait` reports it. A benchmark, not a test: figures from this one run.

    python bench/bench_latency.py [--rates 10,100,1000] [--seconds 20] [--faults 0.1]
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

from orderhist import emulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--rates", default="10,100,1000")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--faults", type=float, default=0.0)
    args = parser.parse_args()
    source = args.source or common.default_source()
    print(f"machine: {common.machine()}")
    home = Path(tempfile.mkdtemp(prefix="orderhist-bench-latency-"))
    common.orderhist(home, "up")
    target = common.stack_endpoint(home)
    try:
        if args.faults:
            emulator.control(target.endpoint_url, "faults", {"rate": args.faults, "seed": 1})
        # The first lines pay for cold paths (the handler's first import, connections).
        common.orderhist(home, "generate", "--source", str(source), "--count", "20", "--wait")
        for rate in (float(r) for r in args.rates.split(",")):
            count = max(1, round(rate * args.seconds))
            started = time.perf_counter()
            result = common.orderhist(home, "generate", "--source", str(source), "--count",
                                      str(count), "--rate", str(rate), "--wait", "--json",
                                      "--timeout", str(args.seconds * 10 + 120))
            wall = time.perf_counter() - started
            summary = json.loads(result.stdout)
            latency = summary["latency_ms"]
            print(f"{rate:g} lines/s, {summary['lines']:,} lines in {wall:.1f} s: stored "
                  f"{summary['stored']:,}; emitted -> stored ms p50 {latency['p50']}, p95 "
                  f"{latency['p95']}, p99 {latency['p99']}, max {latency['max']}", flush=True)
        if args.faults:
            print(f"injected: {emulator.control(target.endpoint_url, 'faults')['injected']}")
    finally:
        common.orderhist(home, "down", "--yes")


if __name__ == "__main__":
    main()
