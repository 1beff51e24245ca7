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


class DamagedFile(OrderhistError):
    """A file of the home that cannot be used as it is: exit 1 with the file and the fix.

    Exit 1, not 2: the command line was right; what failed is a file the tool itself wrote
    (a disk that filled up, a hand edit, a copy cut short)."""

    def __init__(self, path: Path, what: str, fix: str):
        super().__init__(f"{path} is damaged ({what}): {fix}")
        self.path = path


def load_json(path: Path, fix: str, shape=dict, check=None, default=None):
    """The one reader of the home's JSON files: `default` when the file is absent; any
    damage (empty, cut short, not JSON, not UTF-8, not a `shape`, or `check` returns what
    is wrong) raises DamagedFile naming the file and `fix`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    if not raw.strip():
        raise DamagedFile(path, "empty", fix)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedFile(path, "not UTF-8 text", fix) from None
    except ValueError:
        raise DamagedFile(path, "not JSON", fix) from None
    if not isinstance(data, shape):
        raise DamagedFile(path, f"a JSON {type(data).__name__}, not an object", fix)
    problem = check(data) if check else None
    if problem:
        raise DamagedFile(path, problem, fix)
    return data


class StackState:
    """The state file: target settings plus a record of every resource that exists."""

    def __init__(self, home: Home, data: dict):
        self.home = home
        self.data = data

    @classmethod
    def load(cls, home: Home) -> "StackState | None":
        """The state file, None if there is none; DamagedFile if it cannot be trusted."""
        data = load_json(home.state_file, STATE_FIX, check=_state_problem)
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


STATE_FIX = "run `orderhist down` to stop what is running, or move the file away"
# Keys every state file has from its first save, and the types the code relies on.
_STATE_TYPES = {"target": str, "prefix": str, "region": str, "resources": dict}
_OPTIONAL_TYPES = {"endpoint": str, "account": str, "settings": dict, "faults": (int, float),
                   "fault_seed": int}


def _state_problem(data: dict) -> str | None:
    for key, kind in _STATE_TYPES.items():
        if not isinstance(data.get(key), kind):
            return f"{key!r} is missing or not a {kind.__name__}"
    for key, kind in _OPTIONAL_TYPES.items():
        value = data.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"{key!r} has the wrong type"
    if data["target"] not in (aws.LOCAL, aws.AWS):
        return f"unknown target {data['target']!r}"
    if not all(isinstance(record, dict) for record in data["resources"].values()):
        return "a resource record is not an object"
    return _settings_problem(data.get("settings") or {})


def _settings_problem(settings: dict) -> str | None:
    from dataclasses import fields

    from orderhist.resources import Settings

    known = {field.name: type(field.default) for field in fields(Settings)}
    for key, value in settings.items():
        kind = known.get(key)
        if kind is None:
            return f"unknown setting {key!r}"
        if type(value) is not kind:
            return f"setting {key!r} is not a {kind.__name__}"
    return None


def require_state(home: Home) -> StackState:
    state = StackState.load(home)
    if state is None:
        raise OrderhistError("no stack here: run `orderhist up` first")
    return state
