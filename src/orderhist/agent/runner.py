"""The agent process: flows started, checkpoints and stats kept, a clean stop on SIGTERM.

Per flow, a tailer thread reads and converts lines while a sender thread ships them; the main
thread writes the checkpoint file every CHECKPOINT_EVERY seconds (only what was accepted) and
the stats file every STATS_EVERY. SIGTERM or SIGINT: stop reading, send what is buffered
(within shutdownTimeoutMillis), write the final checkpoint, exit 0. A second signal gives up
on the flush; what was not accepted is simply read again on the next start.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from orderhist import aws, logs
from orderhist.agent.checkpoint import CheckpointStore
from orderhist.agent.config import AgentConfig, FlowConfig, load_config
from orderhist.agent.processing import DeadLetters
from orderhist.agent.sender import PutRecordsClient, Sender
from orderhist.agent.stats import AgentStats, default_stats_path, utc_now
from orderhist.agent.tailer import FlowTailer

log = logging.getLogger("orderhist.agent")

# The checkpoint is written as soon as a batch is accepted (so a SIGKILL re-sends at most
# the batch in flight), but not more often than this, and at least this often when idle.
CHECKPOINT_MIN_GAP = 0.02
CHECKPOINT_EVERY = 0.2
STATS_EVERY = 1.0
_REGION_IN_HOST = re.compile(r"kinesis(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")

ClientFactory = Callable[[AgentConfig, FlowConfig], PutRecordsClient]
# What signal.signal takes and returns (typeshed's own alias for it is private).
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def run_agent(config_path: Path, stats_path: Path | None = None,
              stop: threading.Event | None = None, *,
              client_factory: ClientFactory | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); 0 after a clean stop.

    A bad config raises orderhist.errors.UsageProblem naming the key, before anything starts.
    `client_factory` (config, flow) -> Kinesis client replaces the standard client, which is
    how a test puts a fault-injecting wrapper around the real one.
    """
    config = load_config(Path(config_path))
    logs.configure("orderhist.agent", "agent")
    for warning in config.warnings:
        log.warning("agent config %s: %s", config_path, warning)
    agent = Agent(config, Path(stats_path) if stats_path else
                  default_stats_path(config.checkpoint_file), client_factory or kinesis_client)
    return agent.run(stop or threading.Event())


def kinesis_client(config: AgentConfig, flow: FlowConfig) -> Any:  # a boto3 Kinesis client
    """The standard credential chain (instance role on EC2, dummy keys from `up` locally)."""
    target = aws.Target(aws.AWS, _region(config), config.endpoint)
    if config.assume_role_arn:
        from orderhist import identity

        target = identity.as_role(target, config.assume_role_arn,
                                  f"orderhist-agent-{os.getpid()}", identity.acting_service())
    # Retries are the agent's own (counted, ahead of newer data), so botocore makes one try.
    return aws.client("kinesis", target, retries={"max_attempts": 1, "mode": "standard"},
                      connect_timeout=5, read_timeout=30, tcp_keepalive=True)


def _region(config: AgentConfig) -> str:
    if config.region:
        return config.region
    match = _REGION_IN_HOST.search(config.endpoint or "")
    if match:
        return match.group(1)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or \
        aws.DEFAULT_REGION


class Agent:
    def __init__(self, config: AgentConfig, stats_path: Path, client_factory: ClientFactory):
        self.config = config
        self.stats = AgentStats(stats_path)
        self.store = CheckpointStore(config.checkpoint_file)
        self.client_factory = client_factory
        self.flows: list[tuple[FlowConfig, FlowTailer, Sender]] = []
        self._failure: BaseException | None = None
        self._abandon = threading.Event()
        self._progress = threading.Event()

    def run(self, stop: threading.Event) -> int:
        self.store.acquire()
        try:
            saved = self.store.load()
            dead_letters = DeadLetters(self.config.dead_letter_file)
            for flow in self.config.flows:
                stats = self.stats.flow(flow.flow_id, flow.stream, flow.file_pattern)
                sender = Sender(flow, self.client_factory(self.config, flow), stats,
                                self._progress.set)
                tailer = FlowTailer(flow, sender, stats, dead_letters)
                tailer.initialize(saved.get(flow.flow_id))
                self.flows.append((flow, tailer, sender))
            self._save_checkpoint()
            with _signals_to(stop, self._abandon):
                return self._serve(stop)
        finally:
            for _, tailer, _ in self.flows:
                tailer.close()
            self.store.release()

    def _serve(self, stop: threading.Event) -> int:
        tailers = []
        for flow, tailer, sender in self.flows:
            sender.start()
            tailers.append(self._thread(f"tailer:{flow.stream}", tailer.run, stop))
            log.info("following %s -> stream %s (%d files, buffer %d ms)", flow.file_pattern,
                     flow.stream, len(tailer.files), flow.max_buffer_age_ms)
        self.stats.state = "running"
        self.stats.write()
        next_stats = time.monotonic() + STATS_EVERY
        while not stop.is_set():
            self._progress.wait(CHECKPOINT_EVERY)
            self._progress.clear()
            self._save_checkpoint()
            time.sleep(CHECKPOINT_MIN_GAP)
            if self._failure is None:
                self._failure = next((s.failure for *_, s in self.flows if s.failure), None)
            if self._failure is not None:
                stop.set()
            elif time.monotonic() >= next_stats:
                self.stats.write()
                next_stats = time.monotonic() + STATS_EVERY
        return self._shut_down(tailers)

    def _shut_down(self, tailers: list[threading.Thread]) -> int:
        self.stats.state = "stopping"
        log.info("stopping: sending what is buffered")
        for thread in tailers:
            thread.join(5.0)
        deadline = time.monotonic() + self.config.shutdown_timeout_ms / 1000
        flushed = True
        for _flow, _, sender in self.flows:
            flushed &= sender.close(max(0.0, deadline - time.monotonic()), self._abandon)
        self._save_checkpoint()
        self.stats.state = "stopped"
        self.stats.write()
        if not flushed:
            log.warning("stopped before everything buffered was accepted; it is read again "
                        "on the next start")
        if self._failure is not None:
            log.error("the agent stopped on an internal error: %r", self._failure)
            return 1
        log.info("stopped; checkpoint written to %s", self.config.checkpoint_file)
        return 0

    def _thread(self, name: str, target: Callable[[threading.Event], object],
                stop: threading.Event) -> threading.Thread:
        def guarded() -> None:
            try:
                target(stop)
            except BaseException as error:  # a bug: stop cleanly rather than go on half-dead
                log.exception("%s failed", name)
                self._failure = error
                stop.set()

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        return thread

    def _save_checkpoint(self) -> None:
        flows = {flow.flow_id: tailer.checkpoints() for flow, tailer, _ in self.flows}
        try:
            self.store.save(flows, utc_now())
        except OSError as error:
            # Not fatal: the previous checkpoint is still whole, it is only older.
            for _, _, sender in self.flows:
                sender.stats.note_error(f"cannot write checkpoint: {error}")
            log.error("cannot write checkpoint %s: %s", self.config.checkpoint_file, error)


class _signals_to:
    """SIGTERM/SIGINT set `stop`; a second one sets `abandon`. Only from the main thread."""

    def __init__(self, stop: threading.Event, abandon: threading.Event):
        self.stop, self.abandon = stop, abandon
        self.previous: dict[int, _SignalHandler] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            self.abandon.set()
        self.stop.set()

    def __enter__(self) -> _signals_to:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
