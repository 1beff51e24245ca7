"""The agent tests' helpers: streams on the moto server, log files of order lines,
the agent in a thread or as a real `python -m orderhist agent run` process."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers import waiting
from helpers.lines import order_line
from orderhist import aws, records
from orderhist.agent import local_agent_config, read_checkpoints, read_stats, run_agent

REGION = "us-east-1"


def make_stream(target: aws.Target, name: str, shards: int = 1):
    client = aws.client("kinesis", target)
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name,
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return client


def read_stream(client, stream: str) -> list[dict]:
    """Every record of every shard, in shard then sequence order."""
    found = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        while iterator:
            reply = client.get_records(ShardIterator=iterator, Limit=10000)
            for record in reply["Records"]:
                record["ShardId"] = shard["ShardId"]
            found.extend(reply["Records"])
            if not reply["Records"] and reply.get("MillisBehindLatest", 0) == 0:
                break
            iterator = reply.get("NextShardIterator")
    return found


def line_numbers(found: list[dict]) -> collections.Counter:
    return collections.Counter(records.parse_wire(r["Data"]).line_no for r in found)


def wait_for_lines(client, stream: str, expected: int, timeout: float = 30.0) -> list[dict]:
    """Read the stream until it holds `expected` distinct lines (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_stream(client, stream)
        if len(line_numbers(found)) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def write_lines(path: Path, numbers, **kwargs) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(order_line(n, **kwargs) for n in numbers))


def agent_config(tmp_path: Path, target: aws.Target, stream: str, log_dir: Path | None = None,
                 **flow_overrides) -> Path:
    log_dir = log_dir or tmp_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    config = local_agent_config(log_dir=log_dir, stream_name=stream,
                                endpoint=target.endpoint_url, region=target.region,
                                checkpoint_file=tmp_path / "state" / "checkpoints.json",
                                buffer_age_ms=50)
    config["flows"][0].update(flow_overrides)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def checkpoint_offsets(config_path: Path) -> dict[str, int]:
    config = json.loads(config_path.read_text())
    saved = read_checkpoints(Path(config["checkpointFile"]))
    return {f.path: f.offset for files in saved.values() for f in files}


def stats_of(config_path: Path) -> dict:
    config = json.loads(config_path.read_text())
    return read_stats(Path(config["checkpointFile"] + ".stats.json"))


def local_client(config, flow):
    target = aws.Target(aws.LOCAL, config.region or REGION, config.endpoint)
    return aws.client("kinesis", target, retries={"max_attempts": 1, "mode": "standard"})


class AgentThread:
    """run_agent in a thread of the test process, stopped as SIGTERM would stop it."""

    def __init__(self, config_path: Path, **kwargs):
        self.config_path = config_path
        # The process-wide environment is left alone: the client gets the emulator's keys
        # from a local Target instead (the subprocess tests cover the credential chain).
        kwargs.setdefault("client_factory", local_client)
        self.kwargs = kwargs
        self.stop = threading.Event()
        self.exit_code: int | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.exit_code = run_agent(self.config_path, None, self.stop, **self.kwargs)
        except BaseException as error:  # surfaced by __exit__
            self.error = error

    def __enter__(self) -> AgentThread:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def finish(self) -> int | None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the agent did not stop within 30 s"
        if self.error is not None:
            raise self.error
        return self.exit_code

    def __exit__(self, *exc) -> None:
        code = self.finish()
        if exc[0] is None:
            assert code == 0


def start_agent_process(home: Path, config_path: Path, stderr_path: Path) -> subprocess.Popen:
    env = aws.local_child_environment(REGION)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    with open(stderr_path, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "orderhist", "--home", str(home), "agent", "run",
             "--config", str(config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 20) -> int:
    process.send_signal(sig)
    return process.wait(timeout)


def wait_until(predicate, timeout: float, message: str, interval: float = 0.05):
    """helpers.waiting.wait_until with the agent tests' order of arguments (message third)."""
    return waiting.wait_until(predicate, timeout, interval, message)
