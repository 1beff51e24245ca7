"""The state directory: where a stack's record, pid files, logs and the host's files live.

The state file records the target chosen by `up` and each resource the moment it exists, so
a crash half-way through `up` leaves a record that `up` repairs from and `down` sweeps.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, cast

from orderhist import aws
from orderhist.errors import OrderhistError
from orderhist.stack_settings import Settings

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
        # Logs and checkpoints are the user's business only: the folders orderhist makes are
        # private. A folder that was there already keeps its mode: a --home may be the user's
        # home folder, or even / (whose run/ is the system's; a 0700 / or /run locks every
        # other user out of the machine).
        for path in (self.root, self.run_dir, self.logs_dir, self.host_dir,
                     self.orders_log_dir, self.agent_dir, self.runtime_dir):
            try:
                path.mkdir(parents=True)
            except FileExistsError:
                continue
            os.chmod(path, 0o700)


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


class ResourceRecord(TypedDict, total=False):
    """What the state file keeps of one resource: its id and ARN, and whatever else its kind
    needs to find, update or delete it (a function's code_sha256, an instance's ami and
    setup, the artifacts' etags, ...). A dict on disk and in memory, as the resources'
    ensure() makes it and their delete() takes it."""

    id: str
    arn: str | None


# Keys the file may hold besides `version`, `settings` and `resources`, and the attribute each
# is read into (the file's "target" is the record's `kind`, as in aws.Target).
_ATTRIBUTES = {"target": "kind", "prefix": "prefix", "region": "region",
               "endpoint": "endpoint", "account": "account", "profile": "profile",
               "iam": "iam", "faults": "faults", "fault_seed": "fault_seed"}


@dataclass(eq=False)
class StackState:
    """The state file: target settings plus a record of every resource that exists.

    On disk it stays the JSON object orderhist has always written; a key the file did not
    hold is not written back as null, so a load and a save change nothing."""

    home: Home
    kind: str                       # aws.LOCAL or aws.AWS: the file's "target"
    prefix: str
    region: str
    endpoint: str | None = None     # the emulator, or the endpoint `up --endpoint-url` gave
    account: str | None = None      # None until the target's identity has been asked
    profile: str | None = None      # AWS_PROFILE when `up` made an AWS stack
    iam: str | None = None          # local: "enforced" / "off"; None: enforced
    faults: float | None = None     # local emulator's injected failure rate
    fault_seed: int | None = None
    settings: Settings = field(default_factory=Settings)
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    # The settings `up` was given (now or before): only those are recorded, so a default
    # that a newer orderhist changes applies to a stack that never chose it.
    chosen: frozenset[str] = frozenset()
    # Keys written as null, or not written at all: kept so, see the class's docstring.
    _on_file: set[str] = field(default_factory=set, repr=False)
    _unknown: dict = field(default_factory=dict, repr=False)  # keys of no attribute

    @classmethod
    def load(cls, home: Home) -> StackState | None:
        """The state file, None if there is none; DamagedFile if it cannot be trusted,
        StateVersionProblem if another orderhist wrote it in a form this one cannot read."""
        data = load_json(home.state_file, STATE_FIX)
        if data is None:
            return None
        # The version first: a newer orderhist's file need not have the shape checked below.
        data = _upgraded(home.state_file, data)
        problem = _state_problem(data)
        if problem:
            raise DamagedFile(home.state_file, problem, STATE_FIX)
        return cls.from_json(home, data)

    @classmethod
    def from_json(cls, home: Home, data: dict) -> StackState:
        data = dict(data)
        data.pop("version", None)
        settings = data.pop("settings", None)
        resources = data.pop("resources", {})
        values = {attribute: data.pop(key) for key, attribute in _ATTRIBUTES.items()
                  if key in data}
        state = cls(home, **{"kind": None, "prefix": None, "region": None, **values},
                    settings=Settings(**(settings or {})), resources=resources,
                    chosen=frozenset(settings or ()), _unknown=data)
        state._on_file = {key for key, attribute in _ATTRIBUTES.items()
                          if attribute in values}
        if settings is not None:
            state._on_file.add("settings")
        return state

    def to_json(self) -> dict:
        data = {"version": STATE_VERSION, **self._unknown,
                "resources": self.resources}
        for key, attribute in _ATTRIBUTES.items():
            value = getattr(self, attribute)
            if value is not None or key in self._on_file:
                data[key] = value
        if self.chosen or "settings" in self._on_file:
            data["settings"] = self.chosen_settings()
        return data

    @classmethod
    def new(cls, home: Home, target: str, **values) -> StackState:
        return cls.from_json(home, {"version": STATE_VERSION, "resources": {},
                                    "target": target, **values})

    def target(self) -> aws.Target:
        return aws.Target(self.kind, self.region, self.endpoint)

    @property
    def is_local(self) -> bool:
        return self.kind == aws.LOCAL

    def resource_id(self, name: str) -> str | None:
        return (self.resources.get(name) or {}).get("id")

    def required_id(self, name: str, what: str) -> str:
        """The id of a resource the caller cannot do without: a record missing (a half-made
        stack) is the user's to repair, said in one line, never a KeyError."""
        found = self.resource_id(name)
        if not found:
            raise OrderhistError(f"the stack has no {what}: run `orderhist up` to repair it")
        return found

    def resource_arn(self, name: str) -> str | None:
        return (self.resources.get(name) or {}).get("arn")

    def chosen_settings(self) -> dict:
        """The settings `up` was given, as the file records them."""
        return {name: getattr(self.settings, name) for name in sorted(self.chosen)}

    def choose_settings(self, chosen: dict) -> None:
        self.settings, self.chosen = Settings(**chosen), frozenset(chosen)

    def set(self, **values) -> None:
        """Set attributes by their name and save; each is written even when None."""
        for attribute, value in values.items():
            if not hasattr(self, attribute) or attribute.startswith("_"):
                raise AttributeError(f"a state file has no {attribute!r}")
            setattr(self, attribute, value)
            self._on_file.update(key for key, name in _ATTRIBUTES.items() if name == attribute)
        self.save()

    def record(self, name: str, **info) -> None:
        self.resources[name] = cast(ResourceRecord, info)
        self.save()

    def forget(self, name: str) -> None:
        if self.resources.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        write_json_atomic(self.home.state_file, self.to_json())

    def remove(self) -> None:
        try:
            self.home.state_file.unlink()
        except FileNotFoundError:
            pass


class StateVersionProblem(OrderhistError):
    """A state file another orderhist wrote in a form this one cannot read: exit 1 with the
    file and the fix. Not DamagedFile: `down` must not take the file as lost and sweep."""

    def __init__(self, path: Path, message: str):
        super().__init__(f"{path} {message}")
        self.path = path


# The oldest version this orderhist reads, and how each older one becomes the next: a version
# N file's data -> version N + 1's. A change of the format adds a step here and bumps
# STATE_VERSION.
OLDEST_READABLE = 1
UPGRADES: dict[int, Callable[[dict], dict]] = {}


def _upgraded(path: Path, data: dict) -> dict:
    version = data.get("version", 1)  # orderhist wrote version 1 from its first state file
    if not isinstance(version, int) or isinstance(version, bool):
        raise DamagedFile(path, "'version' has the wrong type", STATE_FIX)
    if version > STATE_VERSION:
        raise StateVersionProblem(path, f"was written by a newer orderhist (version "
                                        f"{version}; this one reads up to {STATE_VERSION}): "
                                        "upgrade orderhist, or use another --home")
    if version < OLDEST_READABLE:
        raise StateVersionProblem(path, f"was written by an older orderhist (version "
                                        f"{version}) that this one cannot read: run "
                                        "`orderhist down` with that orderhist, or move the "
                                        "file away")
    while version < STATE_VERSION:
        data = {**UPGRADES[version](data), "version": version + 1}
        version += 1
    return data


STATE_FIX = "run `orderhist down` to stop what is running, or move the file away"
# Keys every state file has from its first save, and the types the code relies on.
_STATE_TYPES = {"target": str, "prefix": str, "region": str, "resources": dict}
_OPTIONAL_TYPES: dict[str, type | tuple[type, ...]] = {
    "endpoint": str, "account": str, "settings": dict, "faults": (int, float), "fault_seed": int}


def _state_problem(data: dict) -> str | None:
    for key, kind in _STATE_TYPES.items():
        if not isinstance(data.get(key), kind):
            return f"{key!r} is missing or not a {kind.__name__}"
    for key, kinds in _OPTIONAL_TYPES.items():
        value = data.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f"{key!r} has the wrong type"
    if data["target"] not in (aws.LOCAL, aws.AWS):
        return f"unknown target {data['target']!r}"
    if not all(isinstance(record, dict) for record in data["resources"].values()):
        return "a resource record is not an object"
    return _settings_problem(data.get("settings") or {})


def _settings_problem(settings: dict) -> str | None:
    from dataclasses import fields

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
