"""The embedded local AWS: moto's server in a process of its own, bound to 127.0.0.1.

`serve` runs inside that process (`orderhist emulator serve`); it configures moto before any
resource exists and adds a few routes of its own under /_orderhist/. `start`, `wait_healthy`
and `stop` run in the CLI. moto is imported only on the serving side, so commands that merely
talk to the emulator stay fast.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from orderhist import processes
from orderhist.state import Home, read_json, write_json_atomic

NAME = "emulator"
HOST = "127.0.0.1"
# The moto internals patched below were read in this range; a newer moto is refused rather
# than silently mis-patched.
SUPPORTED_MOTO = ((5, 2), (5, 3))
ROUTE_PREFIX = "/_orderhist/"


class EmulatorError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# The CLI side.

def port_file(home: Home) -> Path:
    return home.run_dir / "emulator.port"


def start(home: Home, env: dict[str, str], timeout: float = 30.0) -> str:
    """Start the emulator on a free port; return its endpoint once it answers."""
    try:
        port_file(home).unlink()
    except FileNotFoundError:
        pass
    process = processes.start(
        home, NAME, ["emulator", "serve", "--port-file", str(port_file(home))], env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_json(port_file(home))
        if info:
            endpoint = f"http://{HOST}:{info['port']}"
            if is_healthy(endpoint):
                return endpoint
        # poll(), not the pid file: until exec, the child's command line is still ours.
        if process.poll() is not None:
            break
        time.sleep(0.05)
    log = processes.log_file(home, NAME)
    raise EmulatorError(f"the local AWS emulator did not start; see {log}")


def is_healthy(endpoint: str | None, timeout: float = 2.0) -> bool:
    if not endpoint:
        return False
    try:
        with urllib.request.urlopen(endpoint + ROUTE_PREFIX + "health", timeout=timeout) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop(home: Home) -> bool:
    stopped = processes.stop(home, NAME, grace=5.0)
    try:
        port_file(home).unlink()
    except FileNotFoundError:
        pass
    return stopped


# ---------------------------------------------------------------------------------------------
# The serving side.

def serve(port_file_path: Path, port: int = 0) -> None:
    from werkzeug.serving import make_server

    _check_moto_version()
    _configure_moto()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    server = make_server(HOST, port, _with_own_routes(moto_app), threaded=True)
    bound = server.server_address[1]
    _patch_lambda_code_location(f"http://{HOST}:{bound}")

    # Everything lives in memory: there is nothing to flush, and a server holding a large
    # dataset can take many seconds to unwind, so a stop request exits at once.
    def exit_now(signum, frame):
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, exit_now)
    signal.signal(signal.SIGINT, exit_now)
    write_json_atomic(port_file_path, {"port": bound, "pid": os.getpid()})
    print(f"orderhist emulator listening on http://{HOST}:{bound}", flush=True)
    server.serve_forever()


def _check_moto_version() -> None:
    from importlib.metadata import version

    found = version("moto")
    major_minor = tuple(int(part) for part in found.split(".")[:2])
    low, high = SUPPORTED_MOTO
    if not (low <= major_minor < high):
        raise EmulatorError(
            f"moto {found} is not supported by this orderhist; install moto>=5.2,<5.3"
        )


def _configure_moto() -> None:
    """Settings that must hold before the first resource is created."""
    import threading

    from moto.awslambda.models import LambdaBackend
    from moto.core.config import default_user_config
    from moto.kinesis.models import Stream

    # No Docker here: Lambda code is run by orderhist's own runtime, never by moto.
    default_user_config["lambda"]["use_docker"] = False

    # moto invokes a Kinesis mapping's function once per record inside every put; the
    # project's runtime polls the stream instead, with AWS's batching semantics.
    def no_inline_invocation(self, *args, **kwargs):
        return None

    LambdaBackend.send_kinesis_message = no_inline_invocation

    # moto's shard append is not thread-safe: concurrent puts to one shard hand out a
    # sequence number twice and lose records while acknowledging them.
    original_put = Stream.put_record
    put_lock = threading.Lock()

    def locked_put_record(self, *args, **kwargs):
        with put_lock:
            return original_put(self, *args, **kwargs)

    Stream.put_record = locked_put_record


def _patch_lambda_code_location(base_url: str) -> None:
    """Make GetFunction's Code.Location a URL that serves the deployed zip, as AWS's
    pre-signed URL does, so the runtime can load exactly what was deployed."""
    from moto.awslambda.models import LambdaFunction

    original_get_code = LambdaFunction.get_code

    def get_code(self):
        reply = original_get_code(self)
        if getattr(self, "code_bytes", None):
            reply["Code"] = {
                "RepositoryType": "S3",
                "Location": f"{base_url}{ROUTE_PREFIX}lambda-code/{self.account_id}/"
                            f"{self.region}/{self.function_name}",
            }
        return reply

    LambdaFunction.get_code = get_code


def _with_own_routes(moto_app):
    from moto.awslambda.utils import get_backend as lambda_backend

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ROUTE_PREFIX):
            return moto_app(environ, start_response)
        parts = path[len(ROUTE_PREFIX):].split("/")
        if parts == ["health"]:
            return _reply(start_response, "200 OK", json.dumps({"status": "ok"}).encode(),
                          "application/json")
        if len(parts) == 4 and parts[0] == "lambda-code":
            _, account, region, name = parts
            try:
                function = lambda_backend(account, region).get_function(name)
            except Exception as error:  # moto raises its own not-found types
                return _reply(start_response, "404 Not Found", str(error).encode(), "text/plain")
            return _reply(start_response, "200 OK", function.code_bytes, "application/zip")
        return _reply(start_response, "404 Not Found", b"no such route", "text/plain")

    return app


def _reply(start_response, status: str, body: bytes, content_type: str):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
