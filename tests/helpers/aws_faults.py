"""A reverse proxy in front of a moto server that answers chosen AWS calls with AWS's own error
responses, byte for byte in each service's protocol, a set number of times before letting them
through. A real boto3 client (or the CLI) pointed at it gets real botocore ClientErrors, parsed
by botocore from the same bytes AWS sends.
"""
from __future__ import annotations

import http.client
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass
class Fault:
    """Answer `times` calls of `operation` on `service` with `status`, `headers`, `body`."""

    service: str
    operation: str
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    times: int = 1
    seen: int = 0  # calls of the operation that reached the proxy, answered or passed on


def ec2_error(operation: str, code: str, message: str, times: int = 1) -> Fault:
    # EC2's protocol: XML <Response><Errors><Error>, 400.
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}'
            f'</Code><Message>{message}</Message></Error></Errors>'
            f'<RequestID>5e7d0b7a-1d0e-4c2e-9f3e-000000000000</RequestID></Response>')
    return Fault("ec2", operation, 400, body.encode(), {"Content-Type": "text/xml;charset=UTF-8"},
                 times)


def query_error(service: str, operation: str, code: str, message: str, status: int = 400,
                times: int = 1) -> Fault:
    # The query protocol (IAM, STS): XML <ErrorResponse><Error>.
    body = (f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/2010-05-08/"><Error>'
            f'<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>'
            f'<RequestId>0c0cbd3a-0000-4000-8000-000000000000</RequestId></ErrorResponse>')
    return Fault(service, operation, status, body.encode(), {"Content-Type": "text/xml"}, times)


def rest_json_error(service: str, operation: str, code: str, message: str, status: int = 400,
                    times: int = 1) -> Fault:
    # Lambda's rest-json protocol: the type in x-amzn-ErrorType, {"Type", "message"} in the body.
    body = json.dumps({"Type": "User", "message": message}).encode()
    return Fault(service, operation, status, body,
                 {"Content-Type": "application/json", "x-amzn-ErrorType": code}, times)


def json_error(service: str, operation: str, code: str, message: str, status: int = 400,
               query_code: str | None = None, times: int = 1) -> Fault:
    # The awsJson protocol (SQS since 2023, Kinesis, DynamoDB): "__type" in the body; SQS also
    # sends its old query code in x-amzn-query-error, which botocore prefers.
    body = json.dumps({"__type": f"com.amazonaws.{service}#{code}", "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if query_code:
        headers["x-amzn-query-error"] = f"{query_code};Sender"
    return Fault(service, operation, status, body, headers, times)


def _operation(service: str, method: str, path: str, headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if service == "lambda":
        path = urlsplit(path).path.rstrip("/")
        if method == "POST" and path.endswith("/functions"):
            return "CreateFunction"
        if method == "PUT" and path.endswith("/configuration"):
            return "UpdateFunctionConfiguration"
        if method == "POST" and path.endswith("/event-source-mappings"):
            return "CreateEventSourceMapping"
        if method == "PUT" and "/event-source-mappings/" in path:
            return "UpdateEventSourceMapping"
        return ""
    if method == "POST" and body:
        return parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    return ""


class FaultProxy:
    """`with FaultProxy(upstream, [faults]) as proxy:` then point clients at proxy.url."""

    def __init__(self, upstream: str, faults: list[Fault]):
        self.upstream = urlsplit(upstream)
        self.faults = faults
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault_for(self, service: str, operation: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.service == service and fault.operation == operation:
                    fault.seen += 1
                    return fault if fault.seen <= fault.times else None
        return None

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue for S3 uploads

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scope = _SCOPE.search(self.headers.get("Authorization", ""))
                service = scope.group(1) if scope else ""
                fault = proxy._fault_for(
                    service, _operation(service, self.command, self.path, self.headers, body))
                if fault:
                    self._reply(fault.status, fault.headers, fault.body)
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("expect", "connection", "content-length")}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy.upstream.hostname,
                                                      proxy.upstream.port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    data = reply.read()
                    passed = {k: v for k, v in reply.getheaders() if k.lower() not in
                              ("transfer-encoding", "connection", "content-length", "server",
                               "date")}
                    if self.command == "HEAD":
                        passed["Content-Length"] = reply.getheader("Content-Length") or "0"
                    self._reply(reply.status, passed, data)
                finally:
                    upstream.close()

            def _reply(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        return Handler
