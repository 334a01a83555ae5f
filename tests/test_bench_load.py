"""The load generator of `benchmark api` (cryptosatx/bench/load.py) against a small loopback server:
keep-alive and `Connection: close`, chunked bodies, and errors counted by kind."""
import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cryptosatx.bench.load import drive, percentile


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless an answer says otherwise
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        Handler.seen.append(self.path)
        if self.path.startswith("/api/scan/"):
            body = b'{"results": []}' * 100
            self.send_response(200)
            self.send_header("X-Cache", "hit")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/api/coins/"):  # chunked, then the connection is closed
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for part in (b'{"symbol":', b'"X"}'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
        else:
            body = b"boom"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Handler.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_answer_is_read_whole_and_errors_are_counted_by_kind(server):
    result = asyncio.run(drive(server, concurrency=4, seconds=0.6, coins=10, seed=3))
    ranking, coin, rates = (result["endpoints"][k] for k in ("ranking", "coin", "win_rates"))
    assert ranking["requests"] > 0 and ranking["errors"] == 0 and ranking["p95_ms"] is not None
    assert coin["requests"] > 0 and coin["errors"] == 0  # chunked and closed: read whole, reconnected
    assert ranking["x_cache"] == {"hit": ranking["requests"]} and coin["x_cache"] == {"none": coin["requests"]}
    assert rates["requests"] > 0 and rates["errors"] == rates["requests"] and set(rates["error_kinds"]) == {"HTTP 500"}
    # the server saw exactly what the client counted (the closed loop never leaves a request unanswered)
    assert len(Handler.seen) == ranking["requests"] + coin["requests"] + rates["requests"]
    assert {p.split("?")[0] for p in Handler.seen if p.startswith("/api/coins/")} <= {
        f"/api/coins/BENCH{i:04d}USDT" for i in range(10)}


def test_a_server_that_is_not_there_is_an_error_not_a_crash():
    result = asyncio.run(drive("http://127.0.0.1:9", concurrency=1, seconds=0.2, coins=1, seed=1, timeout=1))
    ranking = result["endpoints"]["ranking"]
    assert ranking["errors"] > 0 and "ConnectionRefusedError" in ranking["error_kinds"]


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 50) is None


@pytest.mark.parametrize("args, message", [
    (["--database-url", "sqlite:///x.sqlite3"], "SQLite is refused"),
    (["--database-url", "postgres://postgres@127.0.0.1:5432/x", "--redis-url", "http://x"],
     "must be a redis:// or rediss:// URL"),
    (["--database-url", "postgres://postgres@127.0.0.1:5432/x", "--redis-url", "redis://127.0.0.1:9/15"],
     "cannot reach Redis"),
    (["--database-url", "postgres://postgres@127.0.0.1:5432/x", "--concurrency", "0"], "--concurrency must be"),
])
def test_benchmark_api_refuses_bad_arguments_before_loading_anything(args, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("benchmark", "api", "--duration", "1", *args)


def test_a_garbled_answer_is_counted_as_an_error_not_a_crash():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.sendall(b"garbage\r\n\r\n")  # no status line to speak of
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        result = asyncio.run(drive(f"http://127.0.0.1:{listener.getsockname()[1]}", concurrency=2, seconds=0.3,
                                   coins=1, seed=1, timeout=2))
    finally:
        listener.close()
    ranking = result["endpoints"]["ranking"]
    assert ranking["errors"] == ranking["requests"] > 0 and "IndexError" in ranking["error_kinds"]
