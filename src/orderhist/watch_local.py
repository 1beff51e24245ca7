"""`orderhist watch` on the local target: lines written (the host's log files, counted as they
grow), shipped (the agent's stats), read from the stream, lag, invocations and errors (the
runtime's stats), stored and rejects (the table and the queue), and end-to-end latency of a
sample of the newest lines written, read back from the table."""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from orderhist import aws, aws_errors, processes
from orderhist.state import Home, StackState
from orderhist.watch_sample import HISTORY, Sample

LATENCY_SAMPLE = 50   # newest lines looked up per sample
LATENCY_KEEP = 2000   # latencies kept for p50/p99 of recent lines
LATENCY_GIVE_UP_S = 120.0
CHUNK = 8 << 20
MISSES_BEFORE_DOWN = 3  # samples in a row the emulator may miss before it counts as down


class HostLines:
    """Lines written on the local host: new bytes of the orders log files counted as they
    come, and the newest lines kept so their latency can be measured."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.offsets: dict[Path, int] = {}
        self.total = 0
        self.newest: list[str] = []

    def poll(self) -> int:
        self.newest = []
        for path in sorted(self.log_dir.glob("*.log")):
            offset = self.offsets.get(path, 0)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size <= offset:
                continue
            with open(path, "rb") as handle:
                handle.seek(offset)
                # In chunks: a whole dataset's file is ~80 MB on the first look.
                while offset < size:
                    data = handle.read(min(CHUNK, size - offset))
                    end = data.rfind(b"\n") + 1  # whole lines; the rest is read again
                    if not end:
                        break
                    handle.seek(offset + end)
                    offset += end
                    self.total += data.count(b"\n", 0, end)
                    tail = data[max(0, end - 400 * LATENCY_SAMPLE):end].split(b"\n")[:-1]
                    self.newest = [raw.decode("utf-8", "replace")
                                   for raw in tail[-LATENCY_SAMPLE:]]
            self.offsets[path] = offset
        return self.total


class Latency:
    """End-to-end latency (EmittedAt to StoredAt) of a sample of the newest lines, read back
    from the table once they land: one BatchGetItem a sample."""

    def __init__(self, target: aws.Target, table: str):
        self.table = table
        self.dynamodb = aws.client("dynamodb", target, parameter_validation=False)
        self.pending: dict[tuple[str, str], tuple[str, float]] = {}
        self.values: deque[float] = deque(maxlen=LATENCY_KEEP)

    def add(self, raw_lines: list[str]) -> None:
        from orderhist import records

        for text in raw_lines:
            try:
                line = records.parse_log_line(text)
            except Exception:  # a line the pipeline refuses has no latency to measure
                continue
            if line.emitted_at:
                self.pending[(line.partition_key, line.sort_key)] = (line.emitted_at,
                                                                     time.monotonic())

    def poll(self) -> None:
        from orderhist import records, schema
        from orderhist.delivery import LATENCY_ATTRIBUTES

        now = time.monotonic()
        for key in [k for k, (_, since) in self.pending.items()
                    if now - since > LATENCY_GIVE_UP_S]:
            del self.pending[key]
        keys = list(self.pending)[:100]
        if not keys:
            return
        reply = self.dynamodb.batch_get_item(RequestItems={self.table: {
            "Keys": [schema.key(pk, sk) for pk, sk in keys],
            "ProjectionExpression": LATENCY_ATTRIBUTES}})
        for item in reply.get("Responses", {}).get(self.table, []):
            key = schema.key_of(item)
            emitted = item.get(schema.EMITTED_AT, {}).get("S")
            if key not in self.pending or emitted != self.pending[key][0]:
                continue  # an older write of the same line: not this one yet
            del self.pending[key]
            stored = item.get(schema.STORED_AT, {}).get("S")
            if stored:
                delta = records.parse_utc_iso(stored) - records.parse_utc_iso(emitted)
                self.values.append(delta.total_seconds() * 1000)

    def summary(self) -> dict:
        from orderhist.delivery import latency_summary

        found = latency_summary(list(self.values))
        return {"p50": found["p50"], "p99": found["p99"], "lines": len(self.values)}


def table_counts(target: aws.Target, table: str, queue_url: str | None) -> dict:
    """(order lines stored, refused records, given-up batches on the queue): a few cheap
    calls whatever the table or the queue holds."""
    from orderhist.rejects import count_refused

    found: dict[str, int | None] = {"stored": None, "refused": None, "given_up": None}
    try:
        items = aws.client("dynamodb", target).describe_table(TableName=table)["Table"]
        found["refused"] = count_refused(target, table)
        if items.get("ItemCount") is not None:
            found["stored"] = max(0, items["ItemCount"] - found["refused"])
    except Exception as error:
        if not aws_errors.is_missing(error):
            raise
    if queue_url:
        try:
            attributes = aws.client("sqs", target).get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            found["given_up"] = sum(int(v) for v in attributes.values())
        except Exception as error:
            if not aws_errors.is_missing(error):
                raise
    return found


class LocalWatch:
    """Samples of the local pipeline; keeps the history rates and sparklines come from."""

    def __init__(self, home: Home, state: StackState):
        from orderhist.lifecycle import agent_checkpoint_path

        self.home, self.state = home, state
        self.target = state.target()
        self.table = state.resource_id("table")
        self.queue = state.resource_id("queue")
        self.host = HostLines(home.orders_log_dir)
        self.agent_stats_path = Path(str(agent_checkpoint_path(home)) + ".stats.json")
        self.latency = Latency(self.target, self.table) if self.table else None
        self.history: deque[Sample] = deque(maxlen=HISTORY)
        self.misses = 0

    def sample(self) -> Sample:
        from orderhist import emulator
        from orderhist.agent import read_stats as agent_stats
        from orderhist.runtime import read_stats as runtime_stats

        written = self.host.poll()
        agent = agent_stats(self.agent_stats_path)
        runtime = runtime_stats(self.home.runtime_dir)
        alive = {name: processes.status(self.home, name)["alive"]
                 for name in ("emulator", "agent", "runtime")}
        reachable = alive["emulator"] and emulator.is_healthy(self.target.endpoint_url,
                                                              timeout=2.0)
        found: dict[str, int | None] = {"stored": None, "refused": None, "given_up": None}
        problem = None
        if reachable and self.table:
            try:
                found = table_counts(self.target, self.table, self.queue)
                if self.latency is not None:
                    self.latency.add(self.host.newest)
                    self.latency.poll()
            except Exception as error:  # a busy emulator's timeout must not end the watch
                reachable, problem = False, f"{type(error).__name__}: {error}"
        # A loaded machine's emulator misses a health check now and then: one miss keeps
        # the last counts; only MISSES_BEFORE_DOWN in a row make it "not answering".
        self.misses = 0 if reachable else self.misses + 1
        if not reachable and alive["emulator"] and self.misses < MISSES_BEFORE_DOWN \
                and self.history:
            before = self.history[-1]
            found = {"stored": before.counts.get("stored"),
                     "refused": before.facts.get("refused"),
                     "given_up": before.facts.get("given_up")}
            reachable = "slow"
        rejects = None if found["refused"] is None else found["refused"] + (found["given_up"] or 0)
        counts = {
            "written": written,
            "shipped": agent.get("records_sent") or 0,
            "streamed": (runtime["records_done"] + runtime["pending_records"]
                         + runtime["records_discarded"]),
            "invocations": runtime["invocations"],
            "stored": found["stored"],
            "rejects": rejects,
        }
        facts = {
            "processes": alive,
            "reachable": reachable,
            "agent": {"state": agent.get("state"), "last_error": agent.get("last_error"),
                      "last_error_at": agent.get("last_error_at"),
                      "behind_bytes": agent.get("behind_bytes"),
                      "buffered": agent.get("buffered_records")},
            "runtime": {"stale": runtime["stale"], "errors": runtime["errors"],
                        "records_done": runtime["records_done"],
                        "pending": runtime["pending_records"],
                        "millis_behind_latest": runtime["millis_behind_latest"],
                        "records_behind": runtime["records_behind"],
                        "last_error": runtime["last_error"],
                        "last_error_at": runtime["last_error_at"]},
            "refused": found["refused"], "given_up": found["given_up"],
            "problem": problem,
            "latency_ms": self.latency.summary() if self.latency else None,
        }
        current = Sample(time.time(), counts, facts)
        self.history.append(current)
        return current

    def seed_latency(self) -> None:
        """For one snapshot: the newest lines already written stand for "recent"."""
        if self.latency is None:
            return
        for path in sorted(self.home.orders_log_dir.glob("*.log"))[-1:]:
            with open(path, "rb") as handle:
                handle.seek(max(0, path.stat().st_size - 400 * LATENCY_SAMPLE))
                tail = handle.read().split(b"\n")[1:-1]
            self.latency.add([raw.decode("utf-8", "replace") for raw in tail[-LATENCY_SAMPLE:]])
