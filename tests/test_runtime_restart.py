"""`orderhist runtime run` as a real process: SIGKILLed mid-stream and restarted, then
stopped with SIGTERM mid-stream and restarted again. Every line ends up stored once, a kill
costs at most the batch in flight per shard, and a SIGTERM costs nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers.lines import runtime_order_line as order_line
from helpers.runtime import Stack
from helpers.waiting import wait_until
from orderhist import aws
from orderhist.runtime import read_stats
from orderhist.runtime.checkpoint import checkpoint_dir

LINES = 3000
BATCH = 100
SHARDS = 2


def start_runtime(home: Path, target: aws.Target) -> subprocess.Popen:
    log = open(home / "runtime.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(home), "runtime", "run",
         "--endpoint-url", target.endpoint_url, "--region", target.region],
        env=aws.local_child_environment(target.region), stdout=log, stderr=subprocess.STDOUT)


def progress(home: Path) -> int:
    """Records done over all shards. The emulator numbers a shard's records as AWS shapes
    them, 49 x 10^54 + shard x 10^34 + 1, 2, 3, ...: the low part is the count."""
    done = 0
    for path in checkpoint_dir(home / "runtime").glob("*/*.json"):
        try:
            done += int(json.loads(path.read_text()).get("sequenceNumber") or 0) % 10**34
        except ValueError:
            pass  # never half-written, but a reader may race the rename on some systems
    return done


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stored_at(stack: Stack) -> dict[int, str]:
    return {int(i["LineNo"]["N"]): i["StoredAt"]["S"] for i in stack.items("LineNo", "StoredAt")}


def test_sigkill_and_sigterm_mid_stream_lose_nothing_and_replay_at_most_a_batch(
        local_target, unique_name, tmp_path):
    stack = Stack.create(local_target, unique_name, shards=SHARDS)
    stack.deploy()
    stack.map(BatchSize=BATCH, BisectBatchOnFunctionError=True,
              FunctionResponseTypes=["ReportBatchItemFailures"],
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    lines = [order_line(n).encode() for n in range(1, LINES + 1)]
    stack.put(lines[:1000])

    def produce():  # the rest arrives while the runtime works
        for start in range(1000, LINES, 100):
            stack.put(lines[start:start + 100])
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    home = tmp_path / "home"
    home.mkdir()
    try:
        runtime = start_runtime(home, local_target)
        producer.start()
        wait_until(lambda: progress(home) >= 600, 30, 0.005, "progress before the kill")
        workers = children(runtime.pid)
        assert workers, "the runtime should run its containers as child processes"
        os.kill(runtime.pid, signal.SIGKILL)
        runtime.wait(10)
        # No container outlives its runtime, even one killed mid-batch.
        wait_until(lambda: not any(running(p) for p in workers), 15,
                   message="the killed runtime's containers to end")
        before_kill = stored_at(stack)

        runtime = start_runtime(home, local_target)
        wait_until(lambda: progress(home) >= len(before_kill) + 600, 30, 0.005,
                   "progress before SIGTERM")
        runtime.send_signal(signal.SIGTERM)
        assert runtime.wait(15) == 0
        before_term = stored_at(stack)
        progress_at_term = progress(home)

        runtime = start_runtime(home, local_target)
        producer.join(60)
        wait_until(lambda: progress(home) == LINES, 60, message="every line")
        runtime.send_signal(signal.SIGTERM)
        assert runtime.wait(15) == 0
    finally:
        if runtime.poll() is None:
            runtime.kill()
            runtime.wait()
        stack.unmap()

    after = stored_at(stack)
    assert sorted(after) == list(range(1, LINES + 1))  # every line, each once
    replayed_after_kill = [n for n, at in before_kill.items() if before_term[n] != at]
    assert len(replayed_after_kill) <= BATCH * SHARDS
    # A SIGTERM lets the batch in flight finish and checkpoints it: nothing is replayed.
    assert progress_at_term == len(before_term)
    assert [n for n, at in before_term.items() if after[n] != at] == []
    stats = read_stats(home / "runtime")
    assert stats["errors"] == 0 and stats["records_discarded"] == 0
