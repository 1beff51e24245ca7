"""What `orderhist status` reports, as typed records: stack_status.status fills one, render draws
it, watch.status_verdict judges it, and `status --json` prints its to_json().

The JSON is the contract (see DESIGN.md): its keys and their order are the ones `status` has
always printed, optional keys (iam, denied, problem, warning, verdict) only when known.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderhist.watch_sample import Verdict


@dataclass
class ResourceStatus:
    id: str | None
    arn: str | None
    exists: bool
    # When the stack could not be asked: the state file's record of it, shown as it is.
    recorded: dict | None = None

    def to_json(self) -> dict:
        if self.recorded is not None:
            return {**self.recorded, "exists": self.exists}
        return {"id": self.id, "arn": self.arn, "exists": self.exists}


@dataclass
class ProcessStatus:
    pid: int | None
    alive: bool

    def to_json(self) -> dict:
        return {"pid": self.pid, "alive": self.alive}


@dataclass
class TableFacts:
    name: str | None = None
    items: int | None = None  # order lines: the table's ItemCount less the refused records

    def to_json(self) -> dict:
        return {"name": self.name, "items": self.items}


@dataclass
class StreamLag:
    millis_behind_latest: int | None
    records_behind: int | None

    def to_json(self) -> dict:
        return {"millis_behind_latest": self.millis_behind_latest,
                "records_behind": self.records_behind}


@dataclass
class StreamFacts:
    name: str | None = None
    shards: int | None = None
    lag: StreamLag | None = None  # local: the runtime's, once it has reported

    def to_json(self) -> dict:
        return {"name": self.name, "shards": self.shards,
                "lag": self.lag.to_json() if self.lag else None}


@dataclass
class StatusReport:
    target: str
    endpoint: str | None  # None on AWS unless the stack was made with --endpoint-url
    region: str
    prefix: str
    home: str
    processes: dict[str, ProcessStatus] = field(default_factory=dict)  # local only
    resources: dict[str, ResourceStatus] = field(default_factory=dict)
    table: TableFacts = field(default_factory=TableFacts)
    stream: StreamFacts = field(default_factory=StreamFacts)
    rejects: int | None = None
    # The agent's and the runtime's own stats files, as they write them (local only).
    agent: dict | None = None
    runtime: dict | None = None
    iam: str | None = None  # local: "enforced" or "off"
    denied: list[dict] | None = None  # local: denials.denials()
    problem: str | None = None  # why the target cannot be served
    warning: str | None = None
    # `warning` is printed, null included, whenever the emulator was asked for one.
    warning_asked: bool = field(default=False, repr=False)
    verdict: Verdict | None = None  # what `status` adds after judging the rest

    def to_json(self) -> dict:
        data: dict[str, object] = {
            "target": self.target,
            "endpoint": self.endpoint,
            "region": self.region,
            "prefix": self.prefix,
            "home": self.home,
            "processes": {name: info.to_json() for name, info in self.processes.items()},
            "resources": {name: info.to_json() for name, info in self.resources.items()},
            "table": self.table.to_json(),
            "stream": self.stream.to_json(),
            "rejects": self.rejects,
            "agent": self.agent,
            "runtime": self.runtime,
        }
        if self.iam is not None:
            data["iam"] = self.iam
            data["denied"] = self.denied
        if self.problem is not None:
            data["problem"] = self.problem
        if self.warning is not None or self.warning_asked:
            data["warning"] = self.warning
        if self.verdict is not None:
            data["verdict"] = self.verdict.as_json()
        return data
