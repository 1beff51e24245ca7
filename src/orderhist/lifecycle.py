"""Bringing a stack up: the library behind `up`, for the local target (emulator + background
processes) and AWS. `stack_status` reports on the stack, `teardown` takes it down."""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orderhist import aws, emulator, hostsetup, locks, processes, stack, validate
from orderhist.errors import UsageProblem
from orderhist.resources import Names, Settings, StackContext
from orderhist.state import Home, StackState, write_json_atomic

AGENT, RUNTIME = "agent", "runtime"
LOCAL_PROCESSES = (emulator.NAME, AGENT, RUNTIME)
DEFAULT_PREFIX = "orderhist"
Progress = Callable[[str, str], None]


@dataclass
class UpOptions:
    # None: what the existing stack records, else the default.
    target: str | None = None
    prefix: str | None = None
    region: str | None = None
    shards: int | None = None
    on_demand: bool | None = None
    agent: str | None = None
    instance_type: str | None = None
    pitr: bool | None = None
    endpoint_url: str | None = None
    faults: float | None = None  # local emulator: injected failure rate (None: keep as is)
    fault_seed: int | None = None
    iam: bool | None = None  # local: IAM enforced (None: as recorded, else on)
    dry_run: bool = False


@dataclass(frozen=True)
class ResolvedUp:
    """UpOptions with the stack's identity settled (given, else recorded, else default) and
    checked: what `up` acts on. A record of its own, so the caller's options stay as given."""
    target: str
    prefix: str
    region: str
    endpoint_url: str | None
    faults: float | None
    fault_seed: int | None
    iam: bool | None
    dry_run: bool


@dataclass
class UpResult:
    steps: list[stack.Step]
    started: list[str] = field(default_factory=list)
    endpoint: str | None = None


SETTINGS = ("shards", "on_demand", "agent", "instance_type", "pitr")


def context_for(state: StackState, target: aws.Target | None = None) -> StackContext:
    target = target or state.target()
    # No account yet: `up` stopped before asking STS, so nothing of the stack exists to name.
    names = Names(state.prefix, state.account or "", state.region)
    return StackContext(target, names, state.settings)


def _settings(options: UpOptions, recorded: dict) -> dict:
    """What the stack should be: what was asked now, else what was recorded, else defaults."""
    chosen = dict(recorded)
    for key in SETTINGS:
        if getattr(options, key) is not None:
            chosen[key] = getattr(options, key)
    if options.shards is not None and not options.on_demand:
        chosen["on_demand"] = False
    if chosen.get("agent", "orderhist") not in hostsetup.AGENTS:
        raise UsageProblem(f"--agent must be one of {', '.join(hostsetup.AGENTS)}")
    return chosen


def _resolve(options: UpOptions, state: StackState | None
             ) -> tuple[ResolvedUp, dict, list[str]]:
    """The options filled from the recorded stack, else the defaults, every value checked
    before anything is made: (resolved options, settings, warnings); the caller's options
    stay as given. A value recorded by an older orderhist that no longer passes is refused
    with the way out."""
    recorded = {"target": state.kind, "prefix": state.prefix, "region": state.region} \
        if state is not None else {}
    defaults = {"target": aws.LOCAL, "prefix": DEFAULT_PREFIX, "region": aws.DEFAULT_REGION}
    filled: dict[str, str] = {}
    for key, default in defaults.items():
        given = getattr(options, key)
        if given is not None and recorded.get(key) is not None and given != recorded[key]:
            raise UsageProblem(
                f"this home already holds a stack with {key} {recorded[key]!r}: "
                f"run `orderhist down` first, or use another --home")
        filled[key] = given or recorded.get(key) or default
    resolved = ResolvedUp(target=filled["target"], prefix=filled["prefix"],
                          region=filled["region"], endpoint_url=options.endpoint_url,
                          faults=options.faults, fault_seed=options.fault_seed,
                          iam=options.iam, dry_run=options.dry_run)
    if resolved.target not in (aws.LOCAL, aws.AWS):
        raise UsageProblem(f"unknown target {resolved.target!r}")
    try:
        validate.prefix(resolved.prefix)
        warning = validate.region(resolved.target, resolved.region)
    except UsageProblem as problem:
        if recorded:
            raise UsageProblem(f"{problem} (this home's stack was made with it: run "
                               "`orderhist down`, then `orderhist up` again)") from None
        raise
    if options.endpoint_url is not None:
        validate.endpoint_url(options.endpoint_url)
    if options.faults is not None:
        validate.fault_rate(options.faults)
    elif state is not None and state.faults is not None:
        try:
            validate.fault_rate(state.faults)
        except UsageProblem:
            raise UsageProblem(f"this home's stack records --faults {state.faults}, "
                               "which the emulator refuses: run `orderhist up --faults 0` "
                               "(or another rate below 1)") from None
    settings = _settings(options, state.chosen_settings() if state is not None else {})
    validate.instance_type(settings.get("instance_type", Settings.instance_type))
    return resolved, settings, [warning] if warning else []


def up(home: Home, options: UpOptions, progress: Progress = lambda n, w: None,
       warn: Callable[[str], None] = lambda text: None) -> UpResult:
    # Every value is checked before anything is made (the lock below creates the home), and
    # again under the lock, against the state as it is then.
    _, _, warnings = _resolve(options, StackState.load(home))
    for warning in warnings:
        warn(warning)
    if options.dry_run:  # touches nothing, so it needs no lock
        return _up(home, options, progress)
    validate.usable_home(home.root)
    # One stack change at a time: a second `up` waits, then finds everything up.
    with locks.hold(home, locks.STACK, "up"):
        return _up(home, options, progress)


def _up(home: Home, given: UpOptions, progress: Progress) -> UpResult:
    state = StackState.load(home)
    options, settings, _ = _resolve(given, state)
    if options.dry_run:  # creates nothing on disk, not even the home
        return _dry_run(options, state, settings)
    home.make_dirs()
    if state is None:
        state = StackState.new(home, target=options.target, prefix=options.prefix,
                               region=options.region, endpoint=options.endpoint_url)
        if options.target == aws.AWS and os.environ.get("AWS_PROFILE"):
            # What `orderhist env` tells a shell that wants to reach this stack again.
            state.profile = os.environ["AWS_PROFILE"]
    state.choose_settings(settings)
    if options.iam is not None:
        state.iam = IAM_ENFORCED if options.iam else IAM_OFF
    state.save()
    result = UpResult(steps=[])
    emulator_restarted = False
    if options.target == aws.LOCAL:
        progress("emulator", "starting")
        endpoint, emulator_restarted = _ensure_emulator(home, state, options)
        state.set(endpoint=endpoint)
        result.endpoint = endpoint
        if emulator_restarted:
            result.started.append(emulator.NAME)
        progress("emulator", "started" if emulator_restarted else "running")
    target = state.target()
    if not state.account:
        state.set(account=aws.client("sts", target).get_caller_identity()["Account"])
    ctx = context_for(state, target)
    result.steps = stack.apply(ctx, state, progress)
    if options.target == aws.LOCAL:
        result.started += _ensure_local_processes(home, state, ctx, emulator_restarted, progress)
    return result


def _dry_run(options: ResolvedUp, state: StackState | None, settings: dict) -> UpResult:
    if options.target == aws.LOCAL:
        endpoint = state.endpoint if state else None
        if not emulator.is_healthy(endpoint):
            steps = [stack.Step(r.name, "would create", "") for r in stack.plan()]
            return UpResult(steps=steps)
    else:  # the endpoint the stack was made with, unless another is given
        endpoint = options.endpoint_url or (state.endpoint if state else None)
    target = aws.Target(options.target, options.region, endpoint)
    account = aws.client("sts", target).get_caller_identity()["Account"]
    ctx = StackContext(target, Names(options.prefix, account, options.region),
                       Settings(**settings))
    return UpResult(steps=stack.dry_run(ctx), endpoint=endpoint)


def _ensure_emulator(home: Home, state: StackState, options: ResolvedUp) -> tuple[str, bool]:
    endpoint = state.endpoint
    if options.faults is not None or options.fault_seed is not None:
        state.set(faults=options.faults or 0.0, fault_seed=options.fault_seed)
    faults, seed = state.faults or 0.0, state.fault_seed
    enforce = iam_enforced(state)
    if endpoint is not None and _emulator_answers(home, endpoint):
        if options.faults is not None or options.fault_seed is not None:
            emulator.set_faults(endpoint, faults, seed)
        _set_iam(endpoint, enforce)
        return endpoint, False
    # A dead or stalled emulator took every resource with it: start afresh, forget the old
    # record and the positions that referred to its stream.
    emulator.stop(home)
    for name in (AGENT, RUNTIME):
        processes.stop(home, name)
    state.resources.clear()
    state.set(account=None)
    _reset_local_checkpoints(home)
    environment = aws.local_child_environment(options.region)
    return emulator.start(home, environment, faults=faults, fault_seed=seed,
                          enforce_iam=enforce), True


IAM_ENFORCED, IAM_OFF = "enforced", "off"


def _set_iam(endpoint: str, enforce: bool) -> None:
    import urllib.error

    from orderhist.errors import OrderhistError

    try:
        emulator.set_iam(endpoint, enforce)
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        # An emulator an older orderhist started knows no IAM: it never enforces.
        if not enforce:
            return
        raise OrderhistError("the running emulator predates IAM enforcement: run `orderhist "
                             "down` and `orderhist up` (or `orderhist up --no-iam` to keep "
                             "it)") from None


def iam_enforced(state: StackState) -> bool:
    """The local emulator authorises every call as IAM does unless `up --no-iam` said not."""
    return state.iam != IAM_OFF


# How long a live emulator that does not answer gets before `up` replaces it: a busy one
# (a 10 MB GetRecords, a collection of its 1 GB heap under load) answers within a second or
# two, and replacing it would lose its in-memory data.
STALL_PATIENCE_S = 6.0


def _emulator_answers(home: Home, endpoint: str) -> bool:
    found = processes.status(home, emulator.NAME)
    if not found["alive"] or not endpoint:
        return False
    pid = found["pid"]
    if processes.is_stopped(pid):
        # Stopped by a signal (a SIGSTOP, a suspended job) rather than broken: continuing it
        # is the smallest repair and keeps everything it holds in memory.
        processes.resume(pid)
    deadline = time.monotonic() + STALL_PATIENCE_S
    while True:
        if emulator.is_healthy(endpoint, timeout=2.0):
            return True
        if time.monotonic() >= deadline or not processes.status(home, emulator.NAME)["alive"]:
            return False
        time.sleep(0.2)


def _reset_local_checkpoints(home: Home) -> None:
    # The host's log files survive; shipping them again from the start rebuilds the new
    # table from the same lines (writes are idempotent).
    for path in (home.agent_dir, home.runtime_dir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)


def agent_config_path(home: Home):
    return home.agent_dir / "agent.json"


def agent_checkpoint_path(home: Home):
    return home.agent_dir / "checkpoints.json"


def _ensure_local_processes(home: Home, state: StackState, ctx: StackContext,
                            restart_all: bool, progress: Progress) -> list[str]:
    from orderhist.agent import local_agent_config

    endpoint = state.endpoint
    assert endpoint is not None, "the emulator's endpoint is recorded before the processes start"
    config = local_agent_config(
        log_dir=home.orders_log_dir, stream_name=ctx.names.stream,
        endpoint=endpoint, region=state.region,
        checkpoint_file=agent_checkpoint_path(home),
        # The host's role, as the instance profile gives it on EC2.
        role_arn=state.resource_arn("host_role"))
    config_changed = _write_if_changed(agent_config_path(home), config)
    env = aws.local_child_environment(state.region)
    from orderhist import identity
    started = []
    commands = {
        AGENT: ["agent", "run", "--config", str(agent_config_path(home))],
        RUNTIME: ["runtime", "run", "--endpoint-url", endpoint, "--region", state.region],
    }
    for name, args in commands.items():
        alive = processes.status(home, name)["alive"]
        if alive and (restart_all or (name == AGENT and config_changed)):
            processes.stop(home, name)
            alive = False
        if not alive:
            progress(name, "starting")
            # The agent assumes the host role for EC2, as the instance profile does; the
            # runtime assumes each function's role for Lambda by itself.
            processes.start(home, name, args, {**env, identity.ACTING_SERVICE_ENV: identity.EC2}
                            if name == AGENT else env)
            started.append(name)
        progress(name, "running")
    return started


def _write_if_changed(path, data: dict) -> bool:
    from orderhist.state import read_json

    try:
        if read_json(path) == data:
            return False
    except (ValueError, OSError):  # damaged: this very write repairs it
        pass
    write_json_atomic(path, data)
    return True
