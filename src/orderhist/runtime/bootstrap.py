"""The inside of a local Lambda "container": a long-lived child process that imports the
function's handler from the unpacked zip once and then serves invocations, like Lambda's
runtime interface client.

It is started as a script with `python -I`, never imported: it must not import orderhist
itself, so that `orderhist.*` inside the handler resolves to the deployed zip and not to the
orderhist installed next to the runtime. Standard library only.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and a JSON document. The
handler's own prints go to stderr, never into the protocol stream; the runtime stamps each
line and keeps it in the function's log, framed per invocation by Lambda's START, END and
REPORT lines, which this script writes there too (so they stay in order with the prints).
"""
import importlib
import json
import math
import os
import resource
import signal
import struct
import sys
import time
import traceback

HEADER = struct.Struct(">I")
PR_SET_PDEATHSIG = 1
OVERRUN_GRACE_S = 5.0


class LambdaContext:
    def __init__(self, request: dict, deadline: float):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request.get("invokedFunctionArn", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = request.get("requestId", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _receive(stream):
    header = _read_exact(stream, HEADER.size)
    if header is None:
        return None
    body = _read_exact(stream, HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def _send(stream, message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _error(error: BaseException, error_type: str | None = None) -> dict:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _die_with(runtime_pid: int) -> None:
    """End with the runtime, even when it is SIGKILLed mid-batch: what the batch wrote is
    not checkpointed and is delivered again, so stopping half-way loses nothing, and no
    container outlives its runtime. Linux says so with PR_SET_PDEATHSIG; elsewhere the
    closed pipe (idle) or the overrun alarm (busy) ends it."""
    signal.signal(signal.SIGALRM, lambda signum, frame: os._exit(124))
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != runtime_pid:  # it died before we could ask
        os._exit(0)


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _report(request_id: str, duration_ms: float, init_ms: float | None) -> str:
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    # ru_maxrss is in KiB on Linux: the container's peak, as Lambda's Max Memory Used is.
    used_mb = math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\t"
              f"Memory Size: {memory} MB\tMax Memory Used: {used_mb} MB")
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    return report


def main() -> None:
    code_dir, handler_name, runtime_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _die_with(runtime_pid)
    # Ctrl-C in a terminal reaches the whole process group; the runtime decides when its
    # containers stop (it closes the pipe), so an in-flight batch is not torn in half.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep private copies of the protocol pipes, then point the standard streams elsewhere
    # so that nothing the handler reads or prints can corrupt the protocol.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)

    init_started = time.monotonic()
    try:
        module_name, _, function_name = handler_name.rpartition(".")
        if not module_name:
            raise ValueError(f"bad handler {handler_name!r}: expected module.function")
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # Lambda reports any init failure as the invocation's error
        traceback.print_exc()
        _send(replies, {"ready": False, "error": _error(error, "Runtime.ImportModuleError")})
        return
    _send(replies, {"ready": True})
    init_ms: float | None  # None once told
    init_ms = (time.monotonic() - init_started) * 1000  # told in the first REPORT, as Lambda does

    while True:
        request = _receive(requests)
        if request is None:
            return  # the runtime has gone: nothing more will come
        timeout = request["timeoutMs"] / 1000.0
        deadline = time.monotonic() + timeout
        # The runtime kills a container that overruns; this covers a runtime that is gone.
        signal.setitimer(signal.ITIMER_REAL, timeout + OVERRUN_GRACE_S)
        request_id = request.get("requestId", "")
        _log(f"START RequestId: {request_id} Version: $LATEST")
        started = time.monotonic()
        try:
            result = function(request["event"], LambdaContext(request, deadline))
        except BaseException as error:  # a handler's sys.exit is its error too
            sys.stdout.flush()
            _log(f"[ERROR] {type(error).__name__}: {error}")
            traceback.print_exc()
            reply = {"ok": False, "error": _error(
                error, "Runtime.ExitError" if isinstance(error, SystemExit) else None)}
        else:
            reply = {"ok": True, "payload": result}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout.flush()
        _log(f"END RequestId: {request_id}")
        _log(_report(request_id, (time.monotonic() - started) * 1000, init_ms))
        init_ms = None
        try:
            _send(replies, reply)
        except (TypeError, ValueError) as error:  # a result JSON cannot carry
            _send(replies, {"ok": False, "error": _error(error, "Runtime.MarshalError")})


if __name__ == "__main__":
    main()
