"""The state directory: where a stack's record, pid files, logs and the host's files live.

The state file records the target chosen by `up` and each resource the moment it exists, so
a crash half-way through `up` leaves a record that `up` repairs from and `down` sweeps.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orderhist import aws
from orderhist.errors import OrderhistError

STATE_VERSION = 1


def default_home() -> Path:
    return Path(os.environ.get("ORDERHIST_HOME") or Path.home() / ".orderhist")


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def host_dir(self) -> Path:
        """Stands for the EC2 host's file system when the target is local."""
        return self.root / "host"

    @property
    def orders_log_dir(self) -> Path:
        return self.host_dir / "orders"

    @property
    def agent_dir(self) -> Path:
        return self.root / "agent"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "runtime"

    def make_dirs(self) -> None:
        for path in (self.run_dir, self.logs_dir, self.orders_log_dir, self.agent_dir,
                     self.runtime_dir):
            path.mkdir(parents=True, exist_ok=True)
        # Logs and checkpoints are the user's business only.
        os.chmod(self.root, 0o700)


def write_json_atomic(path: Path, data) -> None:
    """Write, fsync, rename: a reader or a crash sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path: Path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


class StackState:
    """The state file: target settings plus a record of every resource that exists."""

    def __init__(self, home: Home, data: dict):
        self.home = home
        self.data = data

    @classmethod
    def load(cls, home: Home) -> "StackState | None":
        data = read_json(home.state_file)
        return None if data is None else cls(home, data)

    @classmethod
    def new(cls, home: Home, **settings) -> "StackState":
        return cls(home, {"version": STATE_VERSION, "resources": {}, **settings})

    @property
    def resources(self) -> dict:
        return self.data.setdefault("resources", {})

    def target(self) -> aws.Target:
        return aws.Target(self.get("target"), self.get("region"), self.get("endpoint"))

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def set(self, **values) -> None:
        self.data.update(values)
        self.save()

    def record(self, name: str, **info) -> None:
        self.resources[name] = info
        self.save()

    def forget(self, name: str) -> None:
        if self.resources.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        write_json_atomic(self.home.state_file, self.data)

    def remove(self) -> None:
        try:
            self.home.state_file.unlink()
        except FileNotFoundError:
            pass


def require_state(home: Home) -> StackState:
    state = StackState.load(home)
    if state is None:
        raise OrderhistError("no stack here: run `orderhist up` first")
    return state
