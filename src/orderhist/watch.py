"""The library behind `orderhist watch` and the verdict line of `status`: per-stage counts of
the pipeline, sampled about once a second, their rates and recent history, and a verdict
naming the first stage that is stuck or failing.

The samples come from watch_local (the host's files, the processes' stats, the table and the
queue) or watch_aws (CloudWatch's GetMetricData and the queue's depth).
"""
from __future__ import annotations

import time

from orderhist import aws
from orderhist.state import Home, StackState
from orderhist.status_report import StatusReport
from orderhist.watch_sample import HISTORY, Sample, Verdict  # noqa: F401  (watch's API)

STAGES = ("written", "shipped", "streamed", "invocations", "stored", "rejects")
RATE_WINDOW_S = 5.0
STUCK_AFTER_S = 10.0  # work waiting and no progress for this long: stuck
RECENT_ERROR_S = 30.0


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
        "target": watcher.state.kind,
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
    if state.kind == aws.LOCAL:
        from orderhist.watch_local import LocalWatch

        return LocalWatch(home, state)
    from orderhist.watch_aws import AwsWatch

    return AwsWatch(state)


def begin(home: Home, once: bool):
    """`orderhist watch`: the stack's watcher (sampled once already for a snapshot) and the
    screen's title."""
    from orderhist.state import require_state

    state = require_state(home)
    watcher = open_watch(home, state)
    title = f"orderhist watch · {state.kind} · {state.region} · " \
            f"{state.prefix}"
    if once:
        watcher.seed_latency()
        watcher.sample()
    return watcher, title


def status_report(home: Home) -> tuple[StatusReport, Verdict]:
    """`orderhist status`: the stack's report with its verdict."""
    from orderhist import stack_status

    report = stack_status.status(home)
    found = status_verdict(report)
    report.verdict = found
    return report, found


def status_verdict(report: StatusReport) -> Verdict:
    """The verdict line of `orderhist status`, judged from its own report (one sample: no
    rates, nothing read twice), so status stays as fast as it was."""
    if report.problem:
        return Verdict("fail", None, report.problem)
    missing = [name for name, info in report.resources.items() if not info.exists]
    if missing:
        return Verdict("fail", missing[0], f"{', '.join(missing)} missing: run `orderhist up`")
    if report.target != aws.LOCAL:
        return Verdict("ok", None, "every resource exists (`orderhist watch` shows the flow)")
    agent, runtime = report.agent or {}, report.runtime or {}
    counts = {"written": None, "shipped": agent.get("records_sent") or 0,
              "streamed": (runtime.get("records_done") or 0) + (runtime.get("pending_records")
                                                                or 0),
              "invocations": runtime.get("invocations") or 0,
              "stored": report.table.items,
              "rejects": report.rejects}
    facts = {"processes": {name: info.alive for name, info in report.processes.items()},
             "agent": {"last_error": agent.get("last_error"),
                       "last_error_at": agent.get("last_error_at")},
             "runtime": {"stale": runtime.get("stale"), "errors": runtime.get("errors"),
                         "pending": runtime.get("pending_records"),
                         "records_behind": runtime.get("records_behind"),
                         "last_error": runtime.get("last_error"),
                         "last_error_at": runtime.get("last_error_at")}}
    return verdict([Sample(time.time(), counts, facts)])
