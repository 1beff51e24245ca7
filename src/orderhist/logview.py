"""The library behind `orderhist logs`: every log of the stack as stamped lines, one source or
all of them interleaved by time, read once or followed.

Local target: the processes' log files under <home>/logs (agent, runtime, emulator) and the
function's log the runtime keeps (`runtime.function_log`). AWS: the function's log group
(FilterLogEvents, followed as `aws logs tail --follow` follows: ask again from the last
event's time, skip the events already shown) and the host's logs through SSM Run Command.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orderhist import aws, aws_errors, processes
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.state import Home, StackState

SOURCES = ("agent", "runtime", "function", "emulator", "host")
FOLLOW_INTERVAL_S = 0.25
AWS_FOLLOW_INTERVAL_S = 1.0
HOST_FOLLOW_INTERVAL_S = 5.0  # each look at the host is an SSM command
HOST_LINES = 200

# `2026-11-30T02:50:02.819Z` (ours now) or `2026-11-30 02:48:46,696` (logging's default,
# which an older orderhist wrote; UTC on the hosts it runs on).
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,6}))?"
                    r"(Z|[+-]\d\d:?\d\d)?\s?")


@dataclass(frozen=True)
class Line:
    at: float  # epoch seconds; lines without their own stamp take the one before them
    source: str
    text: str  # without its stamp

    @property
    def stamp(self) -> str:
        moment = datetime.fromtimestamp(self.at, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str | None) -> float | None:
    """`10m`, `90s`, `2h`, `1d` ago, or an ISO 8601 moment (UTC unless it says): epoch s."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip())
    if match:
        seconds = float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return time.time() - seconds
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageProblem(f"--since {text!r} is neither a duration (10m, 2h, 1d) nor an "
                           "ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# http.server's request lines (the emulator's): `127.0.0.1 - - [30/Nov/2026 02:52:03] ...`
_HTTP_STAMP = re.compile(r"\[(\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d)\]")


def split_stamp(text: str) -> tuple[float | None, str]:
    match = _STAMP.match(text)
    if not match:
        found = _HTTP_STAMP.search(text)
        if found:  # the stamp stays in the text: it is part of the request line
            moment = datetime.strptime(found[1], "%d/%b/%Y %H:%M:%S")
            return moment.replace(tzinfo=UTC).timestamp(), text
        return None, text
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    moment = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '0').ljust(6, '0')}{zone}")
    return moment.timestamp(), text[match.end():]


class FileTail:
    """One log file read from where the last read stopped; whole lines only. A file that
    shrank was truncated or replaced: read it again from the start."""

    def __init__(self, path: Path, source: str):
        self.path, self.source = path, source
        self.offset = 0
        self.last_at: float | None = None
        self._partial = b""

    def read(self) -> list[Line]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = self._partial + handle.read(size - self.offset)
        self.offset = size
        *complete, self._partial = data.split(b"\n")
        if self.last_at is None:  # a file with no stamps at all (the emulator's): its time
            self.last_at = self.path.stat().st_mtime
        found = []
        for raw in complete:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if not text:
                continue
            at, rest = split_stamp(text)
            if at is not None:
                self.last_at = at
            found.append(Line(self.last_at if at is None else at, self.source, rest))
        return found


def local_files(home: Home, state: StackState | None) -> dict[str, list[Path]]:
    from orderhist.runtime.function_log import LOG_DIR

    files = {name: [processes.log_file(home, name)] for name in ("agent", "runtime", "emulator")}
    files["function"] = sorted((home.runtime_dir / LOG_DIR).glob("*.log"))
    # The local host is this machine: the generator writes no log of its own, and the host's
    # shipper is the agent above.
    files["host"] = []
    return files


class LocalLogs:
    def __init__(self, home: Home, state: StackState | None, sources: list[str]):
        self.home, self.state, self.sources = home, state, sources
        self.tails: dict[Path, FileTail] = {}

    def _refresh(self) -> None:
        # New function logs (a function made after the first look) are picked up as they come.
        for source, paths in local_files(self.home, self.state).items():
            if source in self.sources:
                for path in paths:
                    self.tails.setdefault(path, FileTail(path, source))

    def read(self) -> list[Line]:
        self._refresh()
        lines = [line for tail in self.tails.values() for line in tail.read()]
        return sorted(lines, key=lambda line: line.at)


class AwsLogs:
    def __init__(self, state: StackState, sources: list[str], since: float | None):
        self.state, self.sources = state, sources
        self.target = state.target()
        self.function = state.resource_id("function") or f"{state.prefix}-ingest"
        self.start_ms = int((since or time.time() - 600) * 1000)
        self.seen: set[str] = set()
        self.host_since = since or time.time() - 600
        self.next_host_look = 0.0

    def read(self) -> list[Line]:
        lines: list[Line] = []
        if "function" in self.sources:
            lines += self._function_events()
        if ("host" in self.sources or "agent" in self.sources) \
                and time.monotonic() >= self.next_host_look:
            self.next_host_look = time.monotonic() + HOST_FOLLOW_INTERVAL_S
            lines += self._host_lines()
        return sorted(lines, key=lambda line: line.at)

    def _function_events(self) -> list[Line]:
        logs = aws.client("logs", self.target)
        request = {"logGroupName": f"/aws/lambda/{self.function}", "startTime": self.start_ms}
        found = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**request):
                for event in page.get("events", []):
                    if event["eventId"] in self.seen:
                        continue
                    self.seen.add(event["eventId"])
                    self.start_ms = max(self.start_ms, event["timestamp"])
                    for text in event["message"].rstrip("\n").split("\n"):
                        found.append(Line(event["timestamp"] / 1000, "function", text))
        except Exception as error:
            if not aws_errors.is_missing(error):
                raise
        return found

    def _host_lines(self) -> list[Line]:
        from orderhist.remote import run_on_host

        since = datetime.fromtimestamp(self.host_since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        script = [
            f"journalctl -u orderhist-agent -u aws-kinesis-agent -o short-iso-precise "
            f"--no-pager --utc --since '{since}' | tail -n {HOST_LINES} | sed 's/^/agent /'",
            # The Kinesis Agent (`up --agent kinesis-agent`) keeps its own log file.
            f"tail -n {HOST_LINES} /var/log/aws-kinesis-agent/aws-kinesis-agent.log "
            f"2>/dev/null | sed 's/^/agent /'",
            f"tail -n {HOST_LINES} /var/log/orderhist-setup.log | sed 's/^/host /'",
        ]
        output = run_on_host(self.state, script, "orderhist logs")
        found = []
        for raw in output.splitlines():
            source, _, text = raw.partition(" ")
            if source not in self.sources:
                continue
            at, rest = split_stamp(text)
            key = f"{source}|{text}"
            if key in self.seen:
                continue
            self.seen.add(key)
            found.append(Line(at or time.time(), source, rest))
        self.host_since = max([line.at for line in found] + [self.host_since])
        return found


def open_logs(home: Home, state: StackState | None, source: str | None,
              since: float | None):
    """A reader of the stack's logs: `.read()` gives the lines not given before."""
    sources = [source] if source else list(SOURCES)
    target = state.kind if state else aws.LOCAL
    if target == aws.LOCAL:
        return LocalLogs(home, state, sources)
    if source in ("runtime", "emulator"):
        raise UsageProblem(f"the {source} runs only on the local target; on AWS the mapping "
                           "is Lambda's own: see `orderhist logs function`")
    if state is None or not state.resources.get("function"):
        raise OrderhistError("the stack has no function: run `orderhist up`")
    return AwsLogs(state, [s for s in sources if s not in ("runtime", "emulator")], since)


@dataclass(frozen=True)
class Opened:
    """`orderhist logs`: the reader, the start its --since gave, and what the user should be
    told about the source first (or None)."""

    reader: object
    start: float | None
    note: str | None


def open_for(home: Home, source: str | None, since: str | None) -> Opened:
    from orderhist.state import require_state

    start = parse_since(since)
    state = require_state(home)
    reader = open_logs(home, state, source, start)
    note = None
    if source == "host" and state.kind == aws.LOCAL:
        note = ("the local host is this machine: the generator keeps no log, and the host's "
                "shipper is `orderhist logs agent`")
    return Opened(reader, start, note)


def lines(reader, since: float | None) -> list[Line]:
    return [line for line in reader.read() if since is None or line.at >= since]


def follow(reader, interval: float | None = None) -> Iterator[list[Line]]:
    """What is new, again and again, until the caller stops."""
    interval = interval or (FOLLOW_INTERVAL_S if isinstance(reader, LocalLogs)
                            else AWS_FOLLOW_INTERVAL_S)
    while True:
        time.sleep(interval)
        new = reader.read()
        if new:
            yield new
