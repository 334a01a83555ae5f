"""The market-data HTTP layer (aiohttp under ServiceClient) against raw HTTP/1.1 on loopback: what
real services send that the simulator does not — gzip, chunked bodies, connections that close
early or are dropped between requests, a proxy from the environment, an answer that never comes."""
from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from typing import Callable

import pytest

from marketdata.errors import RetryableError
from marketdata.governor import Governor, Limits
from marketdata.http import ServiceClient

Reply = Callable[[bytes], bytes | None]  # request head -> raw answer bytes (None: send nothing)


class RawServer:
    """Answers each request on a connection with `replies[n](head)` in turn; `close_after` closes
    the connection after each answer instead of keeping it alive. Records every request head."""

    def __init__(self, *replies: Reply, close_after: bool = False):
        self.replies, self.close_after = list(replies), close_after
        self.heads: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()

    def __enter__(self) -> "RawServer":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while self.replies:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.heads.append(head)
                answer = self.replies.pop(0)(head)
                if answer is None:  # hold the connection open, answer nothing
                    self._stop.wait(5)
                    return
                conn.sendall(answer)
                if self.close_after:
                    return


def answer(body: bytes, *headers: str, status: str = "200 OK") -> Reply:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return lambda head: ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def get(base_url: str, path: str = "/api/v3/ping", params=None, *, timeout: float = 5.0, retries: int = 3):
    async def go():
        client = ServiceClient("binance_spot", base_url, Governor("binance_spot", Limits()), timeout=timeout,
                               max_retries=retries, backoff_base=0.01)
        try:
            return await client.get_json(path, params), client.stats
        except RetryableError as exc:
            return exc, client.stats
        finally:
            await client.aclose()
    return asyncio.run(go())


PAYLOAD = {"symbol": "BTCUSDT", "prices": list(range(200))}


def test_a_gzipped_chunked_answer_is_decoded():
    body = chunked(gzip.compress(json.dumps(PAYLOAD).encode()))
    with RawServer(answer(body, "Content-Encoding: gzip", "Transfer-Encoding: chunked")) as server:
        result, stats = get(server.base_url)
    assert result == PAYLOAD and stats.ok == 1 and stats.retries == 0
    assert b"gzip" in next(h for h in server.heads[0].split(b"\r\n") if h.lower().startswith(b"accept-encoding"))


def test_query_values_are_sent_as_the_services_expect():
    with RawServer(answer(b"{}")) as server:
        get(server.base_url, "/api/v3/klines", {"symbol": "BTCUSDT", "limit": 500, "reduce": True, "x": False})
    request_line = server.heads[0].split(b"\r\n")[0].decode()
    assert request_line == "GET /api/v3/klines?symbol=BTCUSDT&limit=500&reduce=true&x=false HTTP/1.1"


def test_a_connection_that_closes_mid_answer_is_retried():
    cut = lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"sym"  # noqa: E731
    with RawServer(cut, answer(json.dumps(PAYLOAD).encode()), close_after=True) as server:
        result, stats = get(server.base_url)
    assert result == PAYLOAD
    assert stats.requests == 2 and stats.retries == 1 and stats.errors == 0


def test_a_kept_alive_connection_the_server_dropped_is_replaced():
    """Servers close idle keep-alive connections; the next request must not fail for it."""
    with RawServer(answer(b"[1]"), answer(b"[2]"), close_after=True) as server:
        async def two():
            client = ServiceClient("binance_spot", server.base_url, Governor("binance_spot", Limits()),
                                   max_retries=0, backoff_base=0.01)
            try:
                first = await client.get_json("/a")
                await asyncio.sleep(0.2)  # the server has closed the connection by now
                return first, await client.get_json("/b"), client.stats
            finally:
                await client.aclose()
        first, second, stats = asyncio.run(two())
    assert (first, second) == ([1], [2]) and stats.errors == 0 and server.connections == 2


def test_an_answer_that_never_comes_is_a_retryable_timeout():
    with RawServer(lambda head: None) as server:
        result, stats = get(server.base_url, timeout=0.3, retries=0)
    assert isinstance(result, RetryableError) and "timeout" in str(result)
    assert stats.errors == 1


def test_the_proxy_from_the_environment_is_used(monkeypatch):
    """HTTP_PROXY is honoured (as httpx did): the request goes to the proxy in absolute form, and the
    service's host (which does not resolve) is never looked up here."""
    with RawServer(answer(b'{"via": "proxy"}')) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.setenv("http_proxy", proxy.base_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        result, _ = get("http://binance.invalid", "/api/v3/ping")
    assert result == {"via": "proxy"}
    assert proxy.heads[0].startswith(b"GET http://binance.invalid/api/v3/ping HTTP/1.1")


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*"])
def test_no_proxy_bypasses_it(monkeypatch, no_proxy):
    with RawServer(answer(b"[]")) as service:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        monkeypatch.setenv("no_proxy", no_proxy)
        result, stats = get(service.base_url)
    assert result == [] and stats.errors == 0
