"""A bounded HTTP load: `python -m cryptosatx.bench.load URL --concurrency 50 --duration 20`.

`concurrency` connections, each a closed loop: it sends its next request when the last one has been
answered in full, so the server never has more than `concurrency` requests at once, cycling through
the endpoints. A warm-up of `--warmup` seconds runs first and is not counted. Prints one JSON object:
per endpoint the requests, requests per second, p50/p95/p99 latency (ms), errors (non-200 answers
and failed requests, by kind) and the answers' `X-Cache` header counted (hit, miss, none), and the
load process's own CPU seconds.

The client is a bare HTTP/1.1 connection on asyncio streams (keep-alive when the server keeps the
connection open, a new connection when it answers `Connection: close`), not httpx: httpx costs about
a millisecond of CPU per request, which on a 2-core machine would take a core from the server it
measures. Runs without Django, as a process of its own.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit


def endpoints(coins: int, rng: random.Random) -> list[tuple[str, callable]]:
    return [
        ("ranking", lambda: "/api/scan/unified-ranking"),
        ("coin", lambda: f"/api/coins/BENCH{rng.randrange(coins):04d}USDT"),
        ("win_rates", lambda: "/api/analytics/win-rates?days=30&horizon=24h"),
    ]


def percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    k = min(len(sorted_ms) - 1, max(0, math.ceil(q / 100 * len(sorted_ms)) - 1))  # nearest rank
    return round(sorted_ms[k], 2)


class ProtocolError(Exception):
    pass


class Connection:
    """One HTTP/1.1 connection; reopened when the server closes it (gunicorn's sync workers do after
    every answer)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, str]:
        """Send one GET and read the whole answer; returns the status and the X-Cache header ("" if none)."""
        return await asyncio.wait_for(self._get(target), self.timeout)

    async def _get(self, target: str) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\nAccept: application/json\r\n\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.close()
            raise ProtocolError("connection closed before the answer") from None
        status = int(head.split(b" ", 2)[1])
        length, chunked, close, cached = None, False, False, ""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
            elif name == b"x-cache":
                cached = value.decode()
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length is not None:
            await self.reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            await self.reader.read()
            close = True
        if close:
            self.close()
        return status, cached

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(base: str, concurrency: int, seconds: float, coins: int, seed: int, timeout: float = 30) -> dict:
    rng = random.Random(seed)
    targets = endpoints(coins, rng)
    url = urlsplit(base)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, Counter] = defaultdict(Counter)
    cache: dict[str, Counter] = defaultdict(Counter)  # X-Cache per endpoint: what the latencies are made of
    deadline = time.monotonic() + seconds

    async def user(i: int) -> None:
        conn, n = Connection(url.hostname, url.port, timeout), i
        while time.monotonic() < deadline:
            name, path = targets[n % len(targets)]
            n += 1
            started = time.perf_counter()
            try:
                status, cached = await conn.get(path())
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ProtocolError, ValueError, IndexError) as exc:  # a garbled answer is an error, not a crash
                errors[name][type(exc).__name__] += 1
                conn.close()
                continue
            latencies[name].append((time.perf_counter() - started) * 1000)
            cache[name][cached or "none"] += 1
            if status != 200:
                errors[name][f"HTTP {status}"] += 1
        conn.close()

    began = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(concurrency)))
    elapsed = time.monotonic() - began
    out = {}
    for name, _ in targets:
        ms = sorted(latencies[name])
        failed = sum(v for k, v in errors[name].items() if not k.startswith("HTTP"))
        out[name] = {"requests": len(ms) + failed, "requests_per_second": round(len(ms) / elapsed, 1),
                     "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
                     "errors": sum(errors[name].values()), "error_kinds": dict(errors[name]),
                     "x_cache": dict(cache[name])}
    every = sorted(x for v in latencies.values() for x in v)
    return {"seconds": round(elapsed, 2), "endpoints": out,
            "all": {"p50_ms": percentile(every, 50), "p95_ms": percentile(every, 95), "p99_ms": percentile(every, 99)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--coins", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(drive(args.base_url, args.concurrency, args.warmup, args.coins, args.seed + 1))  # not counted
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(drive(args.base_url, args.concurrency, args.duration, args.coins, args.seed))
    after = resource.getrusage(resource.RUSAGE_SELF)
    total = sum(e["requests_per_second"] for e in result["endpoints"].values())
    print(json.dumps({"concurrency": args.concurrency, "warmup_seconds": args.warmup, **result,
                      "requests_per_second": round(total, 1),
                      "load_process_cpu_seconds": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
                      "errors": sum(e["errors"] for e in result["endpoints"].values())}))


if __name__ == "__main__":
    main()
