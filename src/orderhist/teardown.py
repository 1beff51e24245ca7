"""Taking a stack down (`orderhist down`): every resource `up` made, every local process,
and the host's files, even when the state file is lost or damaged."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from orderhist import aws, emulator, locks, processes, stack, validate
from orderhist.lifecycle import (
    AGENT,
    DEFAULT_PREFIX,
    LOCAL_PROCESSES,
    RUNTIME,
    Progress,
    context_for,
)
from orderhist.resources import Names, Settings, StackContext
from orderhist.state import DamagedFile, Home, StackState, read_json


@dataclass(frozen=True)
class Before:
    """What `down` must tell or ask before it starts."""

    damaged: Path | None  # a damaged state file: local processes stop, the file is kept
    question: str | None  # deleting a stack on AWS: confirm first


def before_down(home: Home) -> Before:
    try:
        state = StackState.load(home)
    except DamagedFile as damage:
        return Before(damage.path, None)
    if state is not None and state.kind == aws.AWS:
        return Before(None, f"Delete every resource of stack {state.prefix!r} in "
                            f"{state.region}?")
    return Before(None, None)


def down(home: Home, progress: Progress = lambda n, w: None,
         keep_host_data: bool = False) -> list[str]:
    """Delete every recorded resource and stop every local process; idempotent.

    The host's files (order logs, the generator's position) go too, as the EC2 host's disk
    does on AWS, unless `keep_host_data` (then the next `up` ships them again into its new
    stack). The agent's and the runtime's checkpoints always go: they describe a stream that
    no longer exists. The processes' logs under logs/ stay, to tell what happened."""
    if not home.root.exists():
        # Nothing recorded, nothing to lock; a process whose home was deleted under it is
        # still found by its command line.
        _stop_local_processes(home, progress)
        return []
    with locks.hold(home, locks.STACK, "down"):
        try:
            state = StackState.load(home)
        except DamagedFile:
            state = None
            damaged = True
        else:
            damaged = False
        deleted = _down(home, state, progress) if state is not None else []
        port = _read_quietly(emulator.port_file(home))
        _stop_local_processes(home, progress)
        if damaged:
            _after_damaged_state(home, port, progress)
        with locks.hold(home, locks.HOST, "down"):
            for path in (home.agent_dir, home.runtime_dir) + \
                    (() if keep_host_data else (home.host_dir,)):
                shutil.rmtree(path, ignore_errors=True)
    return deleted


def _down(home: Home, state: StackState, progress: Progress) -> list[str]:
    deleted: list[str] = []
    for name in (AGENT, RUNTIME):
        progress(name, "stopping")
        processes.stop(home, name)
    target = state.target()
    # A local stack in a region the emulator cannot serve is not asked for (every call
    # fails); stopping the emulator below removes it whole.
    reachable = validate.unservable(target) is None and (
        not target.is_local or emulator.is_healthy(target.endpoint_url))
    if reachable and state.account:
        deleted = stack.destroy(context_for(state, target), state, progress)
        deleted += stack.sweep_strays(context_for(state, target), progress)
    if target.is_local:
        progress(emulator.NAME, "stopping")
        emulator.stop(home)
    state.remove()
    return deleted


def _stop_local_processes(home: Home, progress: Progress) -> None:
    """By pid file, then by command line: a lost or damaged state file, or a lost pid file,
    must not leave a process of this home running."""
    for name in LOCAL_PROCESSES:
        if processes.status(home, name)["alive"]:
            progress(name, "stopping")
        if name == emulator.NAME:
            emulator.stop(home)
        else:
            processes.stop(home, name)
    for name, pids in processes.find_by_command(home).items():
        progress(name, "stopping")
        for pid in pids:
            processes.stop_pid(home, pid)


def _after_damaged_state(home: Home, port, progress: Progress) -> None:
    endpoint = f"http://{emulator.HOST}:{port['port']}" \
        if isinstance(port, dict) and type(port.get("port")) is int else None
    if emulator.is_healthy(endpoint):
        # Still answering once every process of this home is stopped: an emulator started
        # here but no longer ours by pid or command line. Without a record, what it holds
        # is found by the stack's names, as strays are.
        _sweep(aws.Target(aws.LOCAL, aws.DEFAULT_REGION, endpoint), progress)
    # Kept aside, not deleted: for a stack on AWS it may be the only list of what exists.
    try:
        home.state_file.replace(home.state_file.with_name(home.state_file.name + ".damaged"))
    except FileNotFoundError:
        pass


def _sweep(target: aws.Target, progress: Progress) -> None:
    try:
        account = aws.client("sts", target).get_caller_identity()["Account"]
        ctx = StackContext(target, Names(DEFAULT_PREFIX, account, target.region), Settings())
        stack.sweep_strays(ctx, progress)
    except Exception as error:  # best effort: stopping the processes is what matters
        progress(emulator.NAME, f"not swept ({type(error).__name__})")


def _read_quietly(path):
    try:
        return read_json(path)
    except (ValueError, OSError):
        return None
