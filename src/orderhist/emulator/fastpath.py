"""The routing table: every DynamoDB and Kinesis request passes here, in front of moto.

In the fast mode the hot data-plane requests are first offered to a handler that answers
straight from moto's models. A handler takes a `Call` and either returns a `Reply` or None
("not mine"): it declines any request shape it does not handle exactly as moto does, and any
request AWS would refuse (its own checks are AWS's), and it decides that before it changes
anything, so a declined request reaches moto untouched, body included.

In both modes a request moto is to answer is first held to AWS's rules (`rules`: AWS's error
for what AWS refuses), Kinesis's CBOR form is read into JSON and answered in CBOR (`wire`),
and any failure of moto or of a handler becomes the service's own 500 (InternalServerError,
InternalFailure) with its traceback in the emulator's log - never a bare text 500.
"""
from __future__ import annotations

import io
import json
import os
import resource
import sys
import threading
import time
import traceback
import uuid
import zlib
from collections import Counter

from orderhist.emulator import fast_dynamodb, fast_items, fast_kinesis, fast_query, rules
from orderhist.emulator.wire import (
    DYNAMODB,
    JSON_11,
    KINESIS,
    Call,
    Reply,
    cbor_reply,
    cbor_request,
    internal_error,
    is_cbor,
)

HANDLER_TIME_HEADER = "X-Orderhist-Handler-Us"
# environ key: (raw body, its JSON) from a layer in front that parsed it (authz)
PARSED_BODY = "orderhist.parsed_body"


def handlers(kinesis_lock, dynamodb_lock) -> dict:
    """X-Amz-Target -> fast handler."""
    return {
        DYNAMODB + "Query": lambda call: fast_query.query(call, dynamodb_lock),
        DYNAMODB + "BatchWriteItem":
            lambda call: fast_dynamodb.batch_write_item(call, dynamodb_lock),
        DYNAMODB + "BatchGetItem": lambda call: fast_dynamodb.batch_get_item(call, dynamodb_lock),
        DYNAMODB + "PutItem": lambda call: fast_items.put_item(call, dynamodb_lock),
        DYNAMODB + "GetItem": lambda call: fast_items.get_item(call, dynamodb_lock),
        KINESIS + "PutRecords": fast_kinesis.put_records,
        KINESIS + "PutRecord": fast_kinesis.put_record,
        KINESIS + "GetRecords": fast_kinesis.get_records,
    }


class Dispatcher:
    """The WSGI app in front of moto's."""

    def __init__(self, moto_app, injector, kinesis_lock, dynamodb_lock, enabled: bool = True):
        self.moto_app = moto_app
        self.injector = injector
        self.enabled = enabled
        self.counts: Counter = Counter()
        # CPU seconds per key: typeshed's Counter counts ints only, this one adds floats.
        self.cpu: dict[str, float] = Counter()  # type: ignore[assignment]
        self._counts_lock = threading.Lock()
        self.handlers = handlers(kinesis_lock, dynamodb_lock) if enabled else {}

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET")
        if (not target or not target.startswith((DYNAMODB, KINESIS))
                or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("HTTP_CONTENT_ENCODING")):
            return self._moto(target, environ, start_response)
        started, cpu_started = time.perf_counter(), time.thread_time()
        raw = _read_body(environ)
        cbor = target.startswith(KINESIS) and is_cbor(environ)
        if cbor:
            body = cbor_request(target, raw)
        else:
            # The IAM layer in front may have parsed this very body already: one parse, not two.
            parsed = environ.pop(PARSED_BODY, None)
            try:
                body = parsed[1] if parsed is not None and parsed[0] == raw else json.loads(raw)
            except ValueError:
                body = None
        reply = None
        served = False
        if isinstance(body, dict):
            # A handler accepts only requests AWS accepts (it checks what `rules` would, or
            # declines), so the rules are asked only of what it leaves to moto.
            handler = self.handlers.get(target)
            if handler is not None:
                try:
                    reply = handler(Call(environ, raw, body, self.injector))
                except Exception:  # a bug here must not take the server down
                    traceback.print_exc(file=sys.stderr)
                    reply = internal_error(target)
                served = reply is not None
            if reply is None:
                reply = rules.check(target, body, environ)
                served = "refused" if reply is not None else False
        if reply is None:
            if cbor and isinstance(body, dict):
                raw = json.dumps(body).encode()
                environ["CONTENT_TYPE"] = JSON_11
                environ["CONTENT_LENGTH"] = str(len(raw))
            environ["wsgi.input"] = io.BytesIO(raw)
            fix = isinstance(body, dict) and target.startswith(DYNAMODB)
            if not cbor and not fix:
                return self._moto(target, environ, start_response)
            reply = self._moto_reply(target, environ)
            if fix:
                reply = _fixed(target, body, reply, environ)
        if cbor:
            reply = cbor_reply(target, reply.status, reply.body)
        self._count(target, served, time.thread_time() - cpu_started)
        # How long the request took in here: lets a benchmark tell the server's time from
        # the client's (boto3 spends ~10 ms parsing 100 items).
        spent_us = round((time.perf_counter() - started) * 1e6)
        headers = [(name, value) for name, value in reply.headers
                   if name.lower() != "content-length"]
        headers += [("Content-Length", str(len(reply.body))),
                    ("x-amzn-RequestId", uuid.uuid4().hex), (HANDLER_TIME_HEADER, str(spent_us))]
        start_response(reply.status, headers)
        return [reply.body]

    def _moto(self, target, environ, start_response):
        cpu_started = time.thread_time()
        try:
            return self.moto_app(environ, start_response)
        except Exception:  # moto crashed: the service's 500, the traceback in our log
            traceback.print_exc(file=sys.stderr)
            reply = internal_error(target)
            start_response(reply.status, reply.headers + [
                ("Content-Length", str(len(reply.body)))])
            return [reply.body]
        finally:
            if target:
                self._count(target, False, time.thread_time() - cpu_started)

    def _moto_reply(self, target, environ) -> Reply:
        """moto's answer, held as a Reply (to be re-encoded or put right)."""
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: captured.setdefault("early", []).append(data)

        try:
            result = self.moto_app(environ, start_response)
            try:
                chunks = captured.pop("early", []) + [bytes(chunk) for chunk in result]
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # as in _moto
            traceback.print_exc(file=sys.stderr)
            return internal_error(target)
        return Reply(captured["status"], b"".join(chunks), list(captured["headers"]))

    def _count(self, target: str, served, cpu_s: float) -> None:
        # Per operation and path (fast, moto, or refused by AWS's rules): calls, and this
        # thread's CPU seconds in here (what the benchmarks break the emulator's time down by).
        path = served if type(served) is str else "fast" if served else "moto"
        key = f"{target.split('.', 1)[-1]}:{path}"
        with self._counts_lock:
            self.counts[key] += 1
            self.cpu[key] += cpu_s

    def stats(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self._counts_lock:
            counts = dict(self.counts)
            cpu = {key: round(seconds, 3) for key, seconds in self.cpu.items()}
        return {"fast": self.enabled, "pid": os.getpid(), "rss_kb": _rss_kb(),
                "peak_rss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
                "requests": counts, "request_cpu_s": cpu}


def _fixed(target: str, request: dict, reply: Reply, environ) -> Reply:
    """moto's DynamoDB reply, put right where it carries ConsumedCapacity AWS would not send
    (moto adds it to BatchGetItem, BatchWriteItem, UpdateItem and TransactWriteItems
    unasked) or names a global index as a local one."""
    if not reply.status.startswith("2") or b'"ConsumedCapacity"' not in reply.body:
        return reply
    try:
        payload = json.loads(reply.body)
    except ValueError:
        return reply
    if not rules.fix_dynamodb_reply(target[len(DYNAMODB):], request, payload, environ):
        return reply
    body = json.dumps(payload).encode()
    headers = [(name, str(zlib.crc32(body)) if name.lower() == "x-amz-crc32" else value)
               for name, value in reply.headers]
    return Reply(reply.status, body, headers)


def _read_body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _rss_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
