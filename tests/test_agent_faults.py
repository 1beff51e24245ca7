"""Faults: throttled PutRecords entries and calls, SIGTERM, and SIGKILL in the middle of a
20,000-line stream with a rotation — against the real moto server and the real command."""
from __future__ import annotations

import json
import os
import random
import signal
import threading
import time

from botocore.exceptions import ClientError

from helpers.agent import (
    AgentThread,
    agent_config,
    checkpoint_offsets,
    kill,
    line_numbers,
    make_stream,
    read_stream,
    start_agent_process,
    stats_of,
    wait_for_lines,
    wait_until,
    write_lines,
)

THROTTLED = "ProvisionedThroughputExceededException"


class ThrottlingKinesis:
    """A thin fault-injecting wrapper around the real boto3 client.

    Moto never fails an entry, so this fails a share of PutRecords entries the way Kinesis
    does (ErrorCode per entry, FailedRecordCount right) and some whole calls. Failed entries
    are really not written: only what the wrapper lets through reaches the server.
    """

    def __init__(self, real, entry_failure_rate: float, failing_calls: int, every: int = 4):
        self.real = real
        self.rate = entry_failure_rate
        self.failing_calls = failing_calls
        self.every = every
        self.random = random.Random(7)
        self.calls = 0
        self.failed_entries = 0
        self.failed_call_records = 0

    def put_records(self, *, StreamName, Records):
        self.calls += 1
        if self.calls % self.every == 2 and self.failing_calls > 0:
            self.failing_calls -= 1
            self.failed_call_records += len(Records)
            raise ClientError({"Error": {"Code": THROTTLED, "Message": "Rate exceeded"}},
                              "PutRecords")
        fail = [self.random.random() < self.rate for _ in Records]
        passing = [r for r, f in zip(Records, fail) if not f]
        reply = self.real.put_records(StreamName=StreamName, Records=passing) if passing else \
            {"Records": [], "FailedRecordCount": 0}
        accepted = iter(reply["Records"])
        results = [{"ErrorCode": THROTTLED,
                    "ErrorMessage": "Rate exceeded for shard shardId-000000000000"} if f
                   else next(accepted) for f in fail]
        self.failed_entries += sum(fail)
        return {"FailedRecordCount": sum(fail), "Records": results}

    def __getattr__(self, name):
        return getattr(self.real, name)


def throttling_factory(entry_failure_rate: float, failing_calls: int):
    """A client factory for the agent that wraps each real client in ThrottlingKinesis, and
    the list of the wrappers it made."""
    from helpers.agent import local_client

    proxies: list[ThrottlingKinesis] = []

    def throttled_client(agent_config, flow):
        proxies.append(ThrottlingKinesis(local_client(agent_config, flow), entry_failure_rate,
                                         failing_calls))
        return proxies[-1]

    return throttled_client, proxies


def test_partial_failures_lose_nothing_and_count_retries(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name)
    config = agent_config(tmp_path, local_target, unique_name, retryInitialBackoffMillis=10,
                          retryMaxBackoffMillis=50)
    throttled_client, proxies = throttling_factory(0.3, 3)

    total = 3000
    with AgentThread(config, client_factory=throttled_client):
        for start in range(1, total + 1, 250):
            write_lines(tmp_path / "logs" / "app.log", range(start, start + 250))
            time.sleep(0.05)
        found = wait_for_lines(client, unique_name, total)
        wait_until(lambda: stats_of(config)["records_sent"] == total, 5, "stats not written")
    proxy = proxies[0]
    counts = line_numbers(read_stream(client, unique_name))
    assert set(counts) == set(range(1, total + 1)) and max(counts.values()) == 1
    assert proxy.failed_entries > 100 and proxy.failed_call_records > 0
    stats = stats_of(config)
    assert stats["retries"] == proxy.failed_entries + proxy.failed_call_records
    assert stats["partial_failures"] > 0 and stats["failed_calls"] == 3
    assert THROTTLED in stats["last_error"]
    assert len(found) == total


def test_a_few_throttled_entries_do_not_hold_newer_lines_back(tmp_path, local_target,
                                                              unique_name):
    """10% of entries refused, and a 3 s backoff: the refused ones wait it out, the rest of
    the file keeps flowing meanwhile (the stream is working), and in the end every line is
    there once."""
    client = make_stream(local_target, unique_name)
    config = agent_config(tmp_path, local_target, unique_name,
                          retryInitialBackoffMillis=3000, retryMaxBackoffMillis=3000)
    throttled_client, proxies = throttling_factory(0.1, 0)

    total = 3000
    with AgentThread(config, client_factory=throttled_client):
        write_lines(tmp_path / "logs" / "app.log", range(1, total + 1))
        # The first retry is due 2.1 s at the earliest after the first refusal (3 s - 30%).
        wait_until(lambda: proxies and proxies[0].calls >= 6, 1.5,
                   "the agent stopped sending while retries waited")
        early = len(read_stream(client, unique_name))
        found = wait_for_lines(client, unique_name, total)
    assert early >= total - 500 - proxies[0].failed_entries  # at most a batch in flight
    counts = line_numbers(read_stream(client, unique_name))
    assert set(counts) == set(range(1, total + 1)) and max(counts.values()) == 1
    assert len(found) == total


def test_sigterm_flushes_the_buffer_and_checkpoints(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name)
    # A buffer age of a minute: only the SIGTERM flush can get these lines out in time.
    config = agent_config(tmp_path, local_target, unique_name, maxBufferAgeMillis=60_000)
    log = tmp_path / "logs" / "app.log"
    write_lines(log, range(1, 301))
    process = start_agent_process(tmp_path / "home", config, tmp_path / "agent.err")
    try:
        wait_until(lambda: stats_of(config)["lines_read"] == 300, 20,
                   "the agent did not read the lines")
        assert read_stream(client, unique_name) == []
        started = time.monotonic()
        assert kill(process, signal.SIGTERM) == 0, (tmp_path / "agent.err").read_text()
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            kill(process)
    counts = line_numbers(read_stream(client, unique_name))
    assert set(counts) == set(range(1, 301)) and max(counts.values()) == 1
    assert checkpoint_offsets(config) == {str(log): log.stat().st_size}
    assert stats_of(config)["state"] == "stopped"


def test_sigkill_three_times_in_20000_lines(tmp_path, local_target, unique_name):
    """Lines are written (and the file rotated once) while the agent is killed with SIGKILL
    three times and restarted: every line reaches the stream at least once."""
    client = make_stream(local_target, unique_name, shards=2)
    config = agent_config(tmp_path, local_target, unique_name)
    logs = tmp_path / "logs"
    total = 20_000
    written = threading.Event()

    def writer():
        for start in range(1, total + 1, 100):
            if start == 10_001:  # rotate by rename in the middle, as logrotate does
                os.rename(logs / "orders.log", logs / "orders.log.1")
            write_lines(logs / "orders.log", range(start, start + 100))
            time.sleep(0.025)
        written.set()

    rng = random.Random(4)
    process = start_agent_process(tmp_path / "home", config, tmp_path / "agent.err")
    thread = threading.Thread(target=writer)
    thread.start()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.9, 1.6))
            assert kill(process) == -signal.SIGKILL
            kills += 1
            process = start_agent_process(tmp_path / "home", config, tmp_path / "agent.err")
        thread.join()
        assert written.is_set()

        def caught_up():
            offsets = checkpoint_offsets(config)
            return offsets.get(str(logs / "orders.log")) == (logs / "orders.log").stat().st_size
        wait_until(caught_up, 60, "the agent did not catch up with the file")
        found = wait_for_lines(client, unique_name, total, timeout=10)
        assert kill(process, signal.SIGTERM) == 0
    finally:
        if process.poll() is None:
            kill(process)
    counts = line_numbers(found)
    missing = sorted(set(range(1, total + 1)) - set(counts))
    assert kills == 3 and not missing, f"{len(missing)} lines lost, first {missing[:5]}"
    duplicates = sum(counts.values()) - total
    # The checkpoint follows each accepted batch: a kill re-sends about one batch of 500.
    assert duplicates <= 3 * 1000, duplicates
    print(json.dumps({"lines": total, "records": sum(counts.values()),
                      "duplicates": duplicates}))
