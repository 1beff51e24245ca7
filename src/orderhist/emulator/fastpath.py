"""The fast path: hot data-plane requests answered in the WSGI layer, in front of moto.

A handler takes a `Call` and either returns a `Reply` or None ("not mine"): it declines any
request shape it does not handle exactly as moto does (filters, projections it does not know,
conditions, unknown tables, invalid input...), and it decides that before it changes anything,
so a declined request reaches moto untouched, body included. Errors raised after a handler has
started changing state become a 500, like any server fault; they are logged.
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

DYNAMODB = "DynamoDB_20120810."
DYNAMODB_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
HANDLER_TIME_HEADER = "X-Orderhist-Handler-Us"


class Reply:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: str, body: bytes, headers: list[tuple[str, str]]):
        self.status, self.body, self.headers = status, body, headers


class Call:
    """One request as a handler sees it: parsed JSON body, account and region."""
    __slots__ = ("environ", "raw", "body", "injector", "_account", "_region")

    def __init__(self, environ, raw: bytes, body, injector):
        self.environ, self.raw, self.body, self.injector = environ, raw, body, injector
        self._account = self._region = None

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = _account_of(self.environ)
        return self._account

    @property
    def region(self) -> str:
        if self._region is None:
            self._region = _region_of(self.environ)
        return self._region


def dynamodb_reply(payload) -> Reply:
    return dynamodb_reply_text(json.dumps(payload))


def dynamodb_reply_text(text: str) -> Reply:
    body = text.encode()
    # boto3 checks DynamoDB bodies against this header when it is present, as moto sends it.
    return Reply("200 OK", body, [("Content-Type", "application/x-amz-json-1.0"),
                                  ("x-amz-crc32", str(zlib.crc32(body)))])


def kinesis_reply(payload) -> Reply:
    return Reply("200 OK", json.dumps(payload).encode(),
                 [("Content-Type", "application/x-amz-json-1.1")])


def dynamodb_error(status: str, code: str, message: str) -> Reply:
    body = json.dumps({"__type": DYNAMODB_ERROR_PREFIX + code, "message": message}).encode()
    return Reply(status, body, [("Content-Type", "application/x-amz-json-1.0"),
                                ("x-amz-crc32", str(zlib.crc32(body)))])


def kinesis_error(status: str, code: str, message: str) -> Reply:
    return Reply(status, json.dumps({"__type": code, "message": message}).encode(),
                 [("Content-Type", "application/x-amz-json-1.1")])


class Dispatcher:
    """The WSGI app in front of moto's."""

    def __init__(self, moto_app, injector, kinesis_lock, dynamodb_lock, enabled: bool = True):
        from orderhist.emulator import fast_dynamodb, fast_kinesis

        self.moto_app = moto_app
        self.injector = injector
        self.enabled = enabled
        self.counts: Counter = Counter()
        self.cpu: Counter = Counter()
        self._counts_lock = threading.Lock()
        # X-Amz-Target -> handler
        self.handlers = {**fast_kinesis.handlers(kinesis_lock),
                         **fast_dynamodb.handlers(dynamodb_lock)}

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET")
        handler = self.handlers.get(target) if target and self.enabled else None
        if (handler is None or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("HTTP_CONTENT_ENCODING")):
            return self._moto(target, environ, start_response)
        raw = _read_body(environ)
        started, cpu_started = time.perf_counter(), time.thread_time()
        reply = None
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            try:
                reply = handler(Call(environ, raw, body, self.injector))
            except Exception:  # a bug here must not take the server down
                traceback.print_exc(file=sys.stderr)
                reply = _internal_error(target)
        if reply is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self._moto(target, environ, start_response)
        self._count(target, True, time.thread_time() - cpu_started)
        # How long the request took in here: lets a benchmark tell the server's time from
        # the client's (boto3 spends ~10 ms parsing 100 items).
        spent_us = round((time.perf_counter() - started) * 1e6)
        headers = reply.headers + [("Content-Length", str(len(reply.body))),
                                   ("x-amzn-RequestId", uuid.uuid4().hex),
                                   (HANDLER_TIME_HEADER, str(spent_us))]
        start_response(reply.status, headers)
        return [reply.body]

    def _moto(self, target, environ, start_response):
        cpu_started = time.thread_time()
        try:
            return self.moto_app(environ, start_response)
        finally:
            if target:
                self._count(target, False, time.thread_time() - cpu_started)

    def _count(self, target: str, served: bool, cpu_s: float) -> None:
        # Per operation and path: calls, and this thread's CPU seconds in here (what the
        # benchmarks break the emulator's time down by).
        key = f"{target.split('.', 1)[-1]}:{'fast' if served else 'moto'}"
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


def _internal_error(target: str) -> Reply:
    if target.startswith(DYNAMODB):
        return dynamodb_error("500 Internal Server Error", "InternalServerError",
                              "Internal server error")
    return kinesis_error("500 Internal Server Error", "InternalFailure", "Internal failure")


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


# Account and region the way moto's BaseResponse finds them, so the fast path reads and
# writes the very backend moto would.
_accounts: dict[str, str] = {}


def _account_of(environ) -> str:
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    from moto.core.responses import BaseResponse

    match = BaseResponse.access_key_regex.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key = match.group(1) if match else "AKIAEXAMPLE"
    account = _accounts.get(access_key)
    if account is None:
        from moto.iam.models import get_account_id_from

        account = _accounts[access_key] = get_account_id_from(access_key)
    return account


def _region_of(environ) -> str:
    from moto.core.responses import BaseResponse

    url = environ.get("HTTP_HOST", "") + environ.get("PATH_INFO", "")
    match = BaseResponse.region_regex.search(url)
    if match:
        return match.group(1)
    match = BaseResponse.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT", ""))
    if match:
        return match.group(1)
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "AWS4" in authorization:
        return authorization.split(",")[0].split("/")[2]
    return BaseResponse.default_region
