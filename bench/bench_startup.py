"""`orderhist orders` start-up, this tree against another in one run (issue 17: it must not
grow). Runs alternate between the trees, so load and caches hit both alike.

    python bench/bench_startup.py --base /tmp/base/src     # a `git worktree add` of the base

Two figures: with no stack (the command exits at once: start-up and nothing else), and
against a local stack this tree brings up (start-up, the query, the rendering), whose --json
output must be the same from both trees.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def run(src: Path, home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(src), "ORDERHIST_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "orderhist", *args], env=env,
                          capture_output=True, text=True)
    return time.perf_counter() - started, done


def compare(trees: dict[str, Path], home: Path, rounds: int, args: list[str], code: int) -> None:
    walls: dict[str, list[float]] = {name: [] for name in trees}
    outputs: dict[str, str] = {}
    for _ in range(rounds):
        for name, src in trees.items():
            wall, done = run(src, home, *args)
            assert done.returncode == code, done.stderr
            walls[name].append(wall)
            outputs[name] = done.stdout
    for name, found in walls.items():
        print(f"  {name}: median {statistics.median(found) * 1000:.1f} ms, "
              f"min {min(found) * 1000:.1f} ms ({rounds} runs)")
    if code == 0:
        print(f"  same output from both: {len(set(outputs.values())) == 1}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True, help="the base tree's src/")
    parser.add_argument("--rounds", type=int, default=40)
    options = parser.parse_args()
    trees = {f"base {options.base}": options.base, "this tree": HERE}
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        print("orders --customer 17850, no stack (exit 1 at once):")
        compare(trees, home, options.rounds, ["orders", "--customer", "17850"], 1)
        _, done = run(HERE, home, "up")
        assert done.returncode == 0, done.stderr
        try:
            _, done = run(HERE, home, "generate", "--count", "300", "--wait")
            assert done.returncode == 0, done.stderr
            print("orders --customer 17850 --json, against a local stack:")
            compare(trees, home, options.rounds // 2,
                    ["orders", "--customer", "17850", "--json"], 0)
        finally:
            run(HERE, home, "down")


if __name__ == "__main__":
    main()
