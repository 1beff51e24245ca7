"""The emulator process: moto's server, configured, made fast, with our own routes in front.

moto 5.2 is correct enough but slow at the sizes the project needs (../shared/reference/
moto-emulator.md): O(n) Kinesis appends and reads, a whole-table walk on every DynamoDB Query,
and a model-driven serializer that spends ~66 ms on 100 items. Two layers fix that:
- `patches` replace the few moto methods that are O(n) with ones that answer from an index,
  kept in step on every write path; every request moto serves itself benefits. `fast_sqs`
  does the same for SQS queues (the rejects queue), whose every call walked every message.
- `fastpath` answers the hot data-plane requests (Query, BatchWriteItem, BatchGetItem,
  PutRecords, GetRecords) in this WSGI layer, straight from moto's own model objects with
  plain json, and hands any request shape it does not fully handle to moto unchanged.
Both are applied only in this process, through `registry`, which checks every original
against the moto they were written for and serves stock moto (with a warning) if one differs.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
from pathlib import Path

from orderhist.emulator.shared import FAST_ENV, HOST, ROUTE_PREFIX, check_fault_rate
from orderhist.state import write_json_atomic

# What the health route reports besides "ok": the registry's warning, if moto differed.
STATUS: dict = {"warning": None}

# One lock per service for everything that changes (or walks) its data. The server answers
# each connection on its own thread, and neither moto's shard append nor its dict walks are
# safe against a concurrent writer. The GIL leaves nothing to gain from finer locks.
KINESIS_LOCK = threading.RLock()
DYNAMODB_LOCK = threading.RLock()
SQS_LOCK = threading.RLock()


def serve(port_file_path: Path | None, port: int = 0, faults: float = 0.0,
          fault_seed: int | None = None, consistency_delay: float = 0.0,
          enforce_iam: bool = False) -> None:
    check_fault_rate(faults)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from orderhist.emulator import fast_sqs, fastpath, fixes, httpd, patches, registry
    from orderhist.emulator.authz import Authorizer
    from orderhist.emulator.consistency import Consistency
    from orderhist.emulator.faults import FaultInjector

    # Every change to moto goes through the registry, which checks the originals first: a
    # moto that differs from the one verified gets stock mode and a warning, not wrong answers.
    def install_fast(patch):
        patches.install(KINESIS_LOCK, DYNAMODB_LOCK, patch)
        fast_sqs.install(SQS_LOCK, patch)

    fast, warning = registry.apply(
        os.environ.get(FAST_ENV, "1") != "0",
        lambda patch: fixes.install(patch, KINESIS_LOCK, ROUTE_PREFIX), install_fast)
    STATUS["warning"] = warning
    seed = fault_seed if fault_seed is not None else random.SystemRandom().randrange(2**31)
    injector = FaultInjector(faults, seed)
    moto_app = DomainDispatcherApplication(create_backend_app)
    dispatcher = fastpath.Dispatcher(moto_app, injector, KINESIS_LOCK, DYNAMODB_LOCK,
                                     enabled=fast)
    consistency = Consistency(dispatcher, consistency_delay)
    # IAM first: nothing, not even the fast paths, answers a request it refuses.
    authorizer = Authorizer(consistency, enforce_iam)
    server = httpd.make(HOST, port, _with_own_routes(dispatcher, consistency, authorizer))
    bound = server.server_address[1]
    fixes.code_base_url["url"] = f"http://{HOST}:{bound}"

    # Everything lives in memory: there is nothing to flush, and a server holding a large
    # dataset can take many seconds to unwind, so a stop request exits at once.
    def exit_now(signum, frame):
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, exit_now)
    signal.signal(signal.SIGINT, exit_now)
    if port_file_path is not None:
        write_json_atomic(port_file_path, {"port": bound, "pid": os.getpid()})
    mode = "fast" if fast else "stock moto"
    eventual = f"; AWS's eventual consistency, {consistency_delay:g} s" \
        if consistency_delay > 0 else ""
    if warning:
        print(f"orderhist emulator: warning: {warning}", flush=True)
    iam = "IAM enforced" if enforce_iam else "IAM off"
    print(f"orderhist emulator ({mode}, {iam}) listening on http://{HOST}:{bound}; "
          f"faults {injector.describe()}{eventual}", flush=True)
    server.serve_forever()


def _with_own_routes(dispatcher, consistency, authorizer):
    from moto.awslambda.utils import get_backend as lambda_backend

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ROUTE_PREFIX):
            return authorizer(environ, start_response)
        parts = path[len(ROUTE_PREFIX):].split("/")
        if parts == ["health"]:
            return _json(start_response, {"status": "ok", "fast": dispatcher.enabled,
                                          "warning": STATUS["warning"]})
        if parts == ["faults"]:
            if environ.get("REQUEST_METHOD") == "POST":
                try:
                    settings = json.loads(_read_body(environ) or b"{}")
                    dispatcher.injector.configure(float(settings.get("rate", 0.0)),
                                                  settings.get("seed"))
                except (ValueError, TypeError, AttributeError) as error:
                    return _reply(start_response, "400 Bad Request", str(error).encode(),
                                  "text/plain")
            return _json(start_response, dispatcher.injector.report())
        if parts == ["iam"]:  # GET: enforcement on or off; POST {"enforce": bool}
            if environ.get("REQUEST_METHOD") == "POST":
                try:
                    authorizer.configure(bool(json.loads(_read_body(environ))["enforce"]))
                except (ValueError, TypeError, KeyError) as error:
                    return _reply(start_response, "400 Bad Request", str(error).encode(),
                                  "text/plain")
            return _json(start_response, authorizer.report())
        if parts == ["consistency"]:
            return _json(start_response, consistency.report())
        if parts == ["stats"]:
            return _json(start_response, dispatcher.stats())
        if len(parts) == 4 and parts[0] == "lambda-code":
            _, account, region, name = parts
            try:
                function = lambda_backend(account, region).get_function(name)
            except Exception as error:  # moto raises its own not-found types
                return _reply(start_response, "404 Not Found", str(error).encode(), "text/plain")
            return _reply(start_response, "200 OK", function.code_bytes, "application/zip")
        return _reply(start_response, "404 Not Found", b"no such route", "text/plain")

    return app


def _read_body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _json(start_response, payload) -> list[bytes]:
    return _reply(start_response, "200 OK", json.dumps(payload).encode(), "application/json")


def _reply(start_response, status: str, body: bytes, content_type: str):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
