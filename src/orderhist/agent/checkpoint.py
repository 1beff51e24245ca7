"""Where each file stands: the acknowledgement ledger and the checkpoint file.

A file's checkpoint is the offset below which every line was accepted by Kinesis (or needed no
record). Lines are accepted out of order when a partial failure sends some of them again, so
each line holds a ticket and the offset only moves over a run of settled tickets. That is what
makes a restart resume exactly where nothing before is missing; the real agent checkpoints a
whole buffer's end when that buffer succeeds, and a late buffer can leave a gap behind.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orderhist.errors import OrderhistError, UsageProblem
from orderhist.state import read_json, write_json_atomic

CHECKPOINT_VERSION = 1
WRITER = "orderhist-agent"


class Ticket:
    __slots__ = ("ledger", "end", "done")

    def __init__(self, ledger: Ledger, end: int):
        self.ledger = ledger
        self.end = end
        self.done = False

    def accept(self) -> None:
        self.ledger.settle(self)


class Ledger:
    """Tickets of one file, in file order; `acked` is the resumable offset."""

    def __init__(self, offset: int):
        self._lock = threading.Lock()
        self._open: deque[Ticket] = deque()
        self.acked = offset

    def issue(self, end: int) -> Ticket:
        ticket = Ticket(self, end)
        with self._lock:
            self._open.append(ticket)
        return ticket

    def skip(self, end: int) -> None:
        """A line that makes no record (a header, a blank line, a dead letter)."""
        with self._lock:
            if self._open:
                ticket = Ticket(self, end)
                ticket.done = True
                self._open.append(ticket)
            else:
                self.acked = end

    def settle(self, ticket: Ticket) -> None:
        with self._lock:
            ticket.done = True
            while self._open and self._open[0].done:
                self.acked = self._open.popleft().end

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._open)


@dataclass(frozen=True)
class FileCheckpoint:
    path: str
    dev: int
    inode: int
    offset: int
    head_length: int
    head_sha1: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileCheckpoint:
        return cls(path=str(data["path"]), dev=int(data["dev"]), inode=int(data["inode"]),
                   offset=int(data["offset"]), head_length=int(data.get("head_length", 0)),
                   head_sha1=str(data.get("head_sha1", "")))


class CheckpointStore:
    """The checkpoint file: JSON, replaced atomically, locked against a second agent."""

    def __init__(self, path: Path):
        self.path = path
        self._lock_fd: int | None = None
        # Flow id to its entry ({"files": [...]}) as the file holds it, checked when read.
        self._flows: dict[str, Any] = {}
        self._last_written: dict[str, Any] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise UsageProblem(f"`checkpointFile` {self.path} cannot be used: "
                               f"{error.strerror}") from None
        try:
            # Two agents on one checkpoint would each send the other's lines again.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OrderhistError(f"another agent is running with checkpointFile {self.path}; "
                                 "stop it first") from None
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def load(self) -> dict[str, list[FileCheckpoint]]:
        """Checkpoints by flow id; a flow absent here has never run."""
        try:
            data = read_json(self.path)
        except (ValueError, UnicodeDecodeError):
            data = "unreadable"
        except OSError as error:
            raise UsageProblem(f"`checkpointFile` {self.path} cannot be read: "
                               f"{error.strerror}") from None
        if data is None:
            return {}
        if not isinstance(data, dict) or data.get("writer") != WRITER:
            # Likely the Java agent's SQLite file: starting over would send everything again.
            raise UsageProblem(f"`checkpointFile` {self.path} is not an orderhist agent "
                               "checkpoint; point checkpointFile at a new path")
        self._flows = dict(data.get("flows") or {})
        try:
            return {flow_id: [FileCheckpoint.from_json(f) for f in entry.get("files", [])]
                    for flow_id, entry in self._flows.items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageProblem(f"`checkpointFile` {self.path} is damaged; move it away to "
                               "start over") from None

    def save(self, flows: dict[str, list[FileCheckpoint]], at: str) -> bool:
        """Write if anything changed; flows of other configs are kept as they were."""
        merged = dict(self._flows)
        for flow_id, files in flows.items():
            merged[flow_id] = {"files": [asdict(f) for f in files]}
        if merged == self._last_written:
            return False
        write_json_atomic(self.path, {"version": CHECKPOINT_VERSION, "writer": WRITER,
                                      "updated_at": at, "flows": merged})
        self._flows = merged
        self._last_written = merged
        return True


def read_checkpoints(path: Path) -> dict[str, list[FileCheckpoint]]:
    """For tools and tests: the checkpoints in a file, without taking the agent's lock."""
    return CheckpointStore(Path(path)).load()
