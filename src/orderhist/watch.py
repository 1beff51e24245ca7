"""The library behind `orderhist watch` and the verdict line of `status`: per-stage counts of
the pipeline, sampled about once a second, their rates and recent history, end-to-end latency
of recent lines, and a verdict naming the first stage that is stuck or failing.

Local target: the host's log files (lines written), the agent's and the runtime's stats files
(shipped; read from the stream, lag, invocations, errors), the table (stored, rejects) and the
queue (given-up batches); latency from a sample of the newest lines written, read back from
the table. AWS: CloudWatch (GetMetricData) and the queue's depth (see watch_aws).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from orderhist import aws, processes
from orderhist.state import Home, StackState

STAGES = ("written", "shipped", "streamed", "invocations", "stored", "rejects")
HISTORY = 60  # samples kept: a minute at one a second
RATE_WINDOW_S = 5.0
STUCK_AFTER_S = 10.0  # work waiting and no progress for this long: stuck
RECENT_ERROR_S = 30.0
LATENCY_SAMPLE = 50   # newest lines looked up per sample
LATENCY_KEEP = 2000   # latencies kept for p50/p99 of recent lines
LATENCY_GIVE_UP_S = 120.0
CHUNK = 8 << 20
MISSES_BEFORE_DOWN = 3  # samples in a row the emulator may miss before it counts as down


@dataclass
class Sample:
    at: float
    counts: dict[str, int | None]
    facts: dict = field(default_factory=dict)  # lag, errors, processes, last errors


@dataclass
class Verdict:
    level: str   # "ok", "warn", "fail"
    stage: str | None
    text: str

    def as_json(self) -> dict:
        return {"level": self.level, "stage": self.stage, "text": self.text}


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
        from orderhist import records

        now = time.monotonic()
        for key in [k for k, (_, since) in self.pending.items()
                    if now - since > LATENCY_GIVE_UP_S]:
            del self.pending[key]
        keys = list(self.pending)[:100]
        if not keys:
            return
        reply = self.dynamodb.batch_get_item(RequestItems={self.table: {
            "Keys": [{"CustomerID": {"S": pk}, "SK": {"S": sk}} for pk, sk in keys],
            "ProjectionExpression": "CustomerID, SK, EmittedAt, StoredAt"}})
        for item in reply.get("Responses", {}).get(self.table, []):
            key = (item["CustomerID"]["S"], item["SK"]["S"])
            emitted = item.get("EmittedAt", {}).get("S")
            if key not in self.pending or emitted != self.pending[key][0]:
                continue  # an older write of the same line: not this one yet
            del self.pending[key]
            stored = item.get("StoredAt", {}).get("S")
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

    found = {"stored": None, "refused": None, "given_up": None}
    try:
        items = aws.client("dynamodb", target).describe_table(TableName=table)["Table"]
        found["refused"] = count_refused(target, table)
        if items.get("ItemCount") is not None:
            found["stored"] = max(0, items["ItemCount"] - found["refused"])
    except Exception as error:
        if aws.error_code(error) != "ResourceNotFoundException":
            raise
    if queue_url:
        try:
            attributes = aws.client("sqs", target).get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            found["given_up"] = sum(int(v) for v in attributes.values())
        except Exception as error:
            if aws.error_code(error) not in ("AWS.SimpleQueueService.NonExistentQueue",
                                             "QueueDoesNotExist"):
                raise
    return found


class LocalWatch:
    """Samples of the local pipeline; keeps the history rates and sparklines come from."""

    def __init__(self, home: Home, state: StackState):
        from orderhist.lifecycle import agent_checkpoint_path

        self.home, self.state = home, state
        self.target = state.target()
        self.table = state.resources.get("table", {}).get("id")
        self.queue = state.resources.get("queue", {}).get("id")
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
        found = {"stored": None, "refused": None, "given_up": None}
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


def rate(history, stage: str, window: float = RATE_WINDOW_S) -> float | None:
    """Per second over the last `window` seconds of samples."""
    points = [(s.at, s.counts.get(stage)) for s in history if s.counts.get(stage) is not None]
    if len(points) < 2:
        return None
    last_at, last = points[-1]
    first_at, first = next(((at, value) for at, value in points
                            if last_at - at <= window + 0.5), points[-2])
    if last_at <= first_at:
        return None
    return max(0.0, (last - first) / (last_at - first_at))


def deltas(history, stage: str) -> list[int]:
    """Per-sample increases: what a sparkline draws."""
    values = [s.counts.get(stage) for s in history]
    return [max(0, (b or 0) - (a or 0)) if a is not None and b is not None else 0
            for a, b in zip(values, values[1:])]


def _since_progress(history, stage: str) -> float:
    """Seconds since `stage`'s count last changed: from the first sample that showed its
    present value (the oldest sample if it never changed)."""
    samples = list(history)
    if not samples:
        return 0.0
    last = samples[-1]
    since = samples[0]
    for earlier, later in zip(reversed(samples[:-1]), reversed(samples)):
        if earlier.counts.get(stage) != last.counts.get(stage):
            since = later
            break
    return last.at - since.at


def _recent(stamp: str | None, now: float) -> bool:
    if not stamp:
        return False
    from orderhist.records import parse_utc_iso

    try:
        return now - parse_utc_iso(stamp).timestamp() <= RECENT_ERROR_S
    except ValueError:
        return False


def verdict(history) -> Verdict:
    """The first stage, in pipeline order, that is down, failing or stuck; else how it
    flows. One sample judges what one sample can (a dead process, a recent error, a stale
    runtime); stuck needs STUCK_AFTER_S of history."""
    if not history:
        return Verdict("warn", None, "no sample yet")
    if history[-1].facts.get("aws"):
        from orderhist.watch_aws import verdict_aws

        return verdict_aws(history)
    last = history[-1]
    counts, facts, now = last.counts, last.facts, last.at
    for name in ("emulator", "agent", "runtime"):
        if not facts.get("processes", {}).get(name, True):
            return Verdict("fail", name, f"{name} is not running: run `orderhist up`")
    if facts.get("reachable") is False:
        return Verdict("fail", "emulator", "the emulator does not answer: run `orderhist up`"
                       + (f" ({facts['problem']})" if facts.get("problem") else ""))
    agent, runtime = facts.get("agent") or {}, facts.get("runtime") or {}
    waited = (history[-1].at - history[0].at) >= STUCK_AFTER_S
    if _recent(agent.get("last_error_at"), now):
        return Verdict("fail", "agent", f"agent failing: {agent.get('last_error')}")
    if waited and (counts["written"] or 0) > (counts["shipped"] or 0) \
            and _since_progress(history, "shipped") >= STUCK_AFTER_S:
        waiting = counts["written"] - counts["shipped"]
        return Verdict("fail", "agent", f"agent stuck: {waiting:,} lines written and not "
                       f"shipped, none for {_since_progress(history, 'shipped'):.0f} s")
    if runtime.get("stale") and (counts["shipped"] or 0) > 0:
        return Verdict("fail", "runtime", "runtime stuck: its stats are more than 10 s old")
    behind = (runtime.get("records_behind") or 0) + (runtime.get("pending") or 0)
    if waited and behind and _since_progress(history, "streamed") >= STUCK_AFTER_S \
            and _since_progress(history, "invocations") >= STUCK_AFTER_S:
        return Verdict("fail", "runtime", f"runtime stuck: {behind:,} records in the stream "
                       "not read or not done")
    errors_now = runtime.get("errors") or 0
    errors_before = (history[0].facts.get("runtime") or {}).get("errors") or 0
    if _recent(runtime.get("last_error_at"), now) and (errors_now > errors_before
                                                       or len(history) == 1):
        return Verdict("fail", "function", f"function failing: {runtime.get('last_error')}")
    if waited and (counts["shipped"] or 0) > (counts["stored"] or 0) + (counts["rejects"] or 0) \
            and _since_progress(history, "stored") >= STUCK_AFTER_S \
            and _since_progress(history, "invocations") >= STUCK_AFTER_S:
        return Verdict("fail", "stored", "table stuck: records shipped but nothing stored "
                       f"for {_since_progress(history, 'stored'):.0f} s")
    if len(history) > 1 and (counts["rejects"] or 0) > (history[0].counts["rejects"] or 0):
        new = counts["rejects"] - (history[0].counts["rejects"] or 0)
        return Verdict("warn", "rejects", f"flowing, with {new:,} new rejects in the last "
                       f"{now - history[0].at:.0f} s: see `orderhist rejects`")
    flowing = rate(history, "stored")
    lag_ms = runtime.get("millis_behind_latest") or 0
    if flowing:
        catching_up = f", {lag_ms / 1000:,.0f} s behind the stream's newest record" \
            if lag_ms >= 10_000 else ""
        return Verdict("ok", None, f"healthy: storing {flowing:,.0f} lines/s{catching_up}")
    waiting = (counts["written"] or 0) - (counts["shipped"] or 0)
    if waiting > 0 or behind:
        return Verdict("ok", None, "healthy: catching up")
    return Verdict("ok", None, f"healthy: idle, {counts['stored'] or 0:,} lines stored")


def snapshot_json(watcher, history) -> dict:
    """`watch --once --json`: the counts as numbers, rates where known, lag, latency."""
    last = history[-1]
    return {
        "target": watcher.state.get("target"),
        "at": last.at,
        "counts": last.counts,
        "rates": last.facts.get("rates") or {stage: rate(history, stage) for stage in STAGES},
        "stored": last.counts.get("stored"),
        "lag": {key: last.facts.get("runtime", {}).get(key)
                for key in ("millis_behind_latest", "records_behind")}
        if last.facts.get("runtime") else last.facts.get("lag"),
        "errors": (last.facts.get("runtime") or {}).get("errors", last.facts.get("errors")),
        "latency_ms": last.facts.get("latency_ms"),
        "verdict": verdict(history).as_json(),
    }


def open_watch(home: Home, state: StackState):
    if state.get("target") == aws.LOCAL:
        return LocalWatch(home, state)
    from orderhist.watch_aws import AwsWatch

    return AwsWatch(state)


def status_verdict(report: dict) -> Verdict:
    """The verdict line of `orderhist status`, judged from its own report (one sample: no
    rates, nothing read twice), so status stays as fast as it was."""
    if report.get("problem"):
        return Verdict("fail", None, report["problem"])
    missing = [name for name, info in report.get("resources", {}).items()
               if not info.get("exists")]
    if missing:
        return Verdict("fail", missing[0], f"{', '.join(missing)} missing: run `orderhist up`")
    if report.get("target") != aws.LOCAL:
        return Verdict("ok", None, "every resource exists (`orderhist watch` shows the flow)")
    agent, runtime = report.get("agent") or {}, report.get("runtime") or {}
    counts = {"written": None, "shipped": agent.get("records_sent") or 0,
              "streamed": (runtime.get("records_done") or 0) + (runtime.get("pending_records")
                                                                or 0),
              "invocations": runtime.get("invocations") or 0,
              "stored": (report.get("table") or {}).get("items"),
              "rejects": report.get("rejects")}
    facts = {"processes": {name: info.get("alive") for name, info
                           in report.get("processes", {}).items()},
             "agent": {"last_error": agent.get("last_error"),
                       "last_error_at": agent.get("last_error_at")},
             "runtime": {"stale": runtime.get("stale"), "errors": runtime.get("errors"),
                         "pending": runtime.get("pending_records"),
                         "records_behind": runtime.get("records_behind"),
                         "last_error": runtime.get("last_error"),
                         "last_error_at": runtime.get("last_error_at")}}
    return verdict([Sample(time.time(), counts, facts)])
