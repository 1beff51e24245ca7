"""The emulator's HTTP server: werkzeug's, with keep-alive and without an access log line.

werkzeug's development server closes every connection after one response (it cannot tell
whether the app read the whole request body) and logs each request. At the emulator's request
rates that costs about a millisecond of server CPU per call, plus a TCP connection and a
thread per call. This handler reads each request body in full before calling the app, so the
next request on the connection is always where it should be, and keeps connections open the
way boto3's connection pool expects.
"""
from __future__ import annotations

import io
import socket
import sys
import traceback

from werkzeug.serving import WSGIRequestHandler, make_server

from orderhist.emulator.wire import internal_error

# An idle pooled connection holds a thread; one that stays idle this long is let go.
IDLE_TIMEOUT_S = 120


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # Headers and body leave in one send: on a kept-alive connection, a small second write
    # would wait for the client's delayed ACK (Nagle), ~40 ms a call.
    wbufsize = 1 << 16

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        if environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        self.environ = environ
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: captured.setdefault("early", []).append(data)

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks = captured.pop("early", []) + [bytes(chunk) for chunk in result]
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            # The service's own 500 in its own form (a layer above the routing failed); the
            # request was read in full, so the connection is still in step: keep it.
            reply = internal_error(environ.get("HTTP_X_AMZ_TARGET"))
            captured = {"status": reply.status, "headers": reply.headers}
            chunks = [reply.body]
        self._send(captured["status"], captured["headers"], b"".join(chunks))

    def _send(self, status: str, headers, payload: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        has_length = False
        for key, value in headers:
            lowered = key.lower()
            if lowered in ("connection", "transfer-encoding"):
                continue
            has_length = has_length or lowered == "content-length"
            self.send_header(key, value)
        if not has_length:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:  # the client asked for it (or spoke HTTP/1.0)
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)
        self.wfile.flush()

    def log_request(self, code="-", size="-") -> None:
        pass  # one line per call costs more than the call at these rates


def make(host: str, port: int, app):
    return make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
