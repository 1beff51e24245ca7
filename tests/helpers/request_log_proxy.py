"""A test-side HTTP proxy in front of a moto server: the tool is pointed at it with
--endpoint-url, it forwards every request unchanged and records what was asked (method,
path, query, headers, body), so a test can check what the tool sent: which calls carried
x-amz-expected-bucket-owner, what RunInstances was given."""
from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def service(self) -> str:
        """The service named in the SigV4 credential scope (s3, ec2, ...)."""
        scope = self.headers.get("authorization", "").split("Credential=", 1)[-1]
        parts = scope.split(",", 1)[0].split("/")
        return parts[3] if len(parts) > 3 else ""

    def form(self) -> dict[str, list[str]]:
        """A query-protocol body (EC2, IAM ...) as its parameters."""
        return parse_qs(self.body.decode("utf-8", "replace"))


class RecordingProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                body = self._body()
                parts = urlsplit(self.path)
                with proxy._lock:
                    proxy.requests.append(Recorded(
                        self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                        {k.lower(): v for k, v in self.headers.items()}, body))
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body, headers=headers)
                reply = connection.getresponse()
                data = reply.read()
                self.send_response(reply.status, reply.reason)
                for name, value in reply.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
