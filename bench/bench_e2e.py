"""End-to-end latency of `generate --count 50 --wait` and the wall time of `orders` as a whole
process, on the embedded local target. A benchmark, not a test: it prints numbers.

    python bench/bench_e2e.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time


def orderhist(home: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "orderhist", "--home", home, *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"orderhist {' '.join(args)} failed: {result.stderr}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="orderhist-bench-")
    started = time.perf_counter()
    orderhist(home, "up")
    print(f"up (cold): {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    orderhist(home, "up")
    print(f"up (again, nothing to do): {time.perf_counter() - started:.2f} s")
    try:
        for run in range(args.runs):
            started = time.perf_counter()
            summary = json.loads(orderhist(home, "generate", "--count", str(args.count),
                                           "--wait", "--json").stdout)
            wall = time.perf_counter() - started
            print(f"generate --count {args.count} --wait #{run + 1}: stored {summary['stored']}, "
                  f"latency ms {summary['latency_ms']}, wall {wall:.2f} s")
        walls = []
        for _ in range(10):
            started = time.perf_counter()
            orderhist(home, "orders", "--customer", "17850")
            walls.append(time.perf_counter() - started)
        print("orders --customer 17850 as a process: "
              f"median {statistics.median(walls) * 1000:.0f} ms, "
              f"min {min(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms (10 runs)")
    finally:
        orderhist(home, "down")


if __name__ == "__main__":
    main()
