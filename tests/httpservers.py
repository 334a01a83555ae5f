"""Small real HTTP servers on loopback for tests: a scripted server whose answers a test writes,
and a proxy in front of the market simulator that can break chosen requests."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

HOP_HEADERS = {"content-length", "transfer-encoding", "connection"}
Answer = tuple[int, dict, bytes]
Handler = Callable[[str, dict[str, str]], Answer]


class ScriptedServer:
    """Answers each GET with `handler(path, params)`; records every request it saw."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                outer.seen.append((parts.path, params))
                status, headers, body = outer.handler(parts.path, params)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def forward(upstream: str, path: str, params: dict[str, str]) -> Answer:
    """Pass a request through to `upstream` unchanged (status, headers and body)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    try:
        with urllib.request.urlopen(f"{upstream}{path}?{query}", timeout=10) as r:
            return r.status, {k: v for k, v in r.headers.items() if k.lower() not in HOP_HEADERS}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k: v for k, v in e.headers.items() if k.lower() not in HOP_HEADERS}, e.read()
