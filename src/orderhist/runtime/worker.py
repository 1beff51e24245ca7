"""A warm local Lambda "container": one child process per shard poller that has imported the
function's handler from the deployed zip and serves invocations until the runtime stops or
the function changes. A timeout or a crash kills it; the next invocation starts a fresh one,
as Lambda does after a container dies."""
from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orderhist import aws
from orderhist.runtime import function_log

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap.py"
HEADER = struct.Struct(">I")
# Lambda gives a function's init phase 10 s, apart from the invocation's own timeout.
INIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """What a container is made from; a new spec (new code or configuration) means new
    containers."""
    arn: str
    name: str
    handler: str
    runtime: str
    role: str
    timeout_s: float
    memory_mb: int
    code_sha256: str
    code_dir: str
    environment: tuple[tuple[str, str], ...]


@dataclass
class InvokeResult:
    ok: bool
    payload: object = None
    error_type: str | None = None
    error_message: str | None = None
    aborted: bool = False  # the runtime is stopping: says nothing about the function


def container_environment(spec: FunctionSpec, target: aws.Target) -> dict[str, str]:
    """The function's variables plus what Lambda sets itself. Locally the child gets dummy
    credentials and the emulator's endpoint, so it cannot reach real AWS."""
    if target.is_local:
        env = aws.local_child_environment(target.region)
    else:
        env = dict(os.environ)
    if target.endpoint_url:
        env["AWS_ENDPOINT_URL"] = target.endpoint_url
    env.update(dict(spec.environment))
    # Reserved by Lambda: a function cannot override these.
    env.update(
        AWS_REGION=target.region,
        AWS_DEFAULT_REGION=target.region,
        AWS_EXECUTION_ENV=f"AWS_Lambda_{spec.runtime}",
        AWS_LAMBDA_FUNCTION_NAME=spec.name,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{spec.name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"local/{os.getpid()}",
        LAMBDA_TASK_ROOT=spec.code_dir,
        _HANDLER=spec.handler,
        TZ=":UTC",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class Worker:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], log_path: Path | None = None):
        self.spec = spec
        self.env = env
        # The function's log (None: the container's stderr is the runtime's own).
        self.log_path = log_path
        self._pump: function_log.Pump | None = None
        # Made by _start with stdin and stdout pipes: the `type: ignore[union-attr]`s below
        # are for those (typed optional), and for the process where the caller has one.
        self.process: subprocess.Popen | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._aborted = False
        self._init_error: InvokeResult | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def warm(self) -> None:
        """Start the container ahead of the first batch, so that batch is not slowed."""
        if self.process is None and not self._aborted:
            self._start()

    def invoke(self, event: dict, request_id: str) -> InvokeResult:
        if self._aborted:
            return InvokeResult(False, aborted=True)
        if self.process is None:
            self._start()
        if self._init_error is not None:
            failed, self._init_error = self._init_error, None
            return failed
        request = {"event": event, "requestId": request_id, "invokedFunctionArn": self.spec.arn,
                   "timeoutMs": int(self.spec.timeout_s * 1000)}
        deadline = time.monotonic() + self.spec.timeout_s
        try:
            self._send(request)
            reply = self._receive(deadline)
        except (BrokenPipeError, EOFError, OSError):
            return self._crashed(request_id, deadline - self.spec.timeout_s)
        if reply is None:
            self._kill()
            message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
            self._log_end(request_id, f"{request_id} {message}", "timeout",
                          self.spec.timeout_s * 1000)
            return InvokeResult(False, error_type="Sandbox.Timedout", error_message=message)
        if reply.get("ok"):
            return InvokeResult(True, payload=reply.get("payload"))
        error = reply.get("error") or {}
        return InvokeResult(False, error_type=error.get("errorType", "Unhandled"),
                            error_message=error.get("errorMessage", ""))

    def close(self, grace: float = 2.0) -> None:
        """Let the container exit by itself (closing its pipe), then make sure."""
        with self._lock:
            process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()  # type: ignore[union-attr]  # a pipe: see self.process
        except OSError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]  # a pipe: see self.process

    def abort(self) -> None:
        """From another thread, on shutdown: end an in-flight invocation without a verdict."""
        self._aborted = True
        with self._lock:
            if self.process is not None:
                self.process.kill()

    # -----------------------------------------------------------------------------------

    def _start(self) -> None:
        self._buffer = b""
        self._init_error = None
        process = subprocess.Popen(
            [sys.executable, "-I", str(BOOTSTRAP), self.spec.code_dir, self.spec.handler,
             str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env,
            stderr=subprocess.PIPE if self.log_path else None,
            cwd=self.spec.code_dir, close_fds=True,
        )
        if self.log_path is not None:
            self._pump = function_log.Pump(process.stderr, self.log_path)
        with self._lock:
            self.process = process
        if self._aborted:
            process.kill()
        try:
            ready = self._receive(time.monotonic() + INIT_TIMEOUT_S)
        except (EOFError, OSError):
            ready = None
        if ready and ready.get("ready"):
            return
        self._kill()
        error = (ready or {}).get("error") or {}
        self._init_error = InvokeResult(
            False, aborted=self._aborted,
            error_type=error.get("errorType", "Runtime.InitError"),
            error_message=error.get("errorMessage", "the function's container did not start"))

    def _send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        # Called after _start (invoke): a process, with its pipes (see self.process).
        self.process.stdin.write(HEADER.pack(len(body)) + body)  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def _receive(self, deadline: float) -> dict | None:
        """The next frame, or None at the deadline; EOFError if the child is gone."""
        fd = self.process.stdout.fileno()  # type: ignore[union-attr]  # as in _send
        while True:
            if len(self._buffer) >= HEADER.size:
                size = HEADER.unpack_from(self._buffer)[0]
                if len(self._buffer) >= HEADER.size + size:
                    body = self._buffer[HEADER.size:HEADER.size + size]
                    self._buffer = self._buffer[HEADER.size + size:]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise EOFError("the function's container exited")
                self._buffer += chunk

    def _crashed(self, request_id: str = "", started: float = 0.0) -> InvokeResult:
        code = self.process.poll() if self.process else None
        self._kill()
        if self._aborted:
            return InvokeResult(False, aborted=True)
        message = f"the function's container exited (status {code})"
        if request_id:
            self._log_end(request_id, f"{request_id} Error: Runtime exited with error: "
                          f"status {code}", "error\tError Type: Runtime.ExitError",
                          (time.monotonic() - started) * 1000)
        return InvokeResult(False, error_type="Runtime.ExitError", error_message=message)

    def _log_end(self, request_id: str, why: str, status: str, duration_ms: float) -> None:
        """What Lambda itself writes when a container did not finish an invocation: the
        reason, END and a REPORT with its status, after the container's last lines."""
        if self.log_path is None:
            return
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.drain()
        function_log.append(self.log_path, [
            why, f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
            f"Memory Size: {self.spec.memory_mb} MB\tMax Memory Used: - MB\tStatus: {status}"])

    def _kill(self) -> None:
        with self._lock:
            process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()  # type: ignore[union-attr]  # pipes: see self.process
            except OSError:
                pass
        self._buffer = b""
