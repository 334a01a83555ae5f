"""`python -m marketdata.simulator.burst`: time a scan-sized burst against the simulator.

The simulator runs in a child process, as `manage.py marketsim` runs it. For every USDT coin the
burst fetches 1000 hourly klines, and for every perpetual the open interest and three
/futures/data series, `--concurrency` requests at a time, over two rounds (cold, then warm
caches). It prints JSON: wall time, requests per second, and the ratio of the wall time to the
latency floor (requests x mean latency / concurrency: what the burst would take if the
simulator cost nothing). A ratio near 1 means the simulator is not the bottleneck.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import httpx

SERIES = ("openInterestHist", "takerlongshortRatio", "topLongShortPositionRatio")


def _serve(conn: Any, kwargs: dict) -> None:
    from .server import SimulatorServer
    sim = SimulatorServer(**kwargs)
    t = time.perf_counter()
    sim.market.warm()  # as marketsim does in the background before the first scan
    conn.send((sim.base_url, time.perf_counter() - t))
    sim.serve_forever()


def plan(client: httpx.Client) -> list[tuple[str, dict]]:
    """The requests of one burst: klines for every USDT coin, futures calls for perpetuals."""
    spot = [s["symbol"] for s in client.get("/api/v3/exchangeInfo").json()["symbols"]
            if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"]
    perps = {s["symbol"] for s in client.get("/fapi/v1/exchangeInfo").json()["symbols"]}
    out: list[tuple[str, dict]] = []
    for sym in spot:
        out.append(("/api/v3/klines", {"symbol": sym, "interval": "1h", "limit": 1000}))
        if sym in perps:
            out.append(("/fapi/v1/openInterest", {"symbol": sym}))
            out += [(f"/futures/data/{e}", {"symbol": sym, "period": "1h", "limit": 30})
                    for e in SERIES]
    return out


class _Conn:
    """A bare HTTP/1.1 keep-alive connection: a few microseconds per request, so the numbers
    measure the simulator, not the client (httpx spends ~1.5 ms of CPU per large answer)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def burst(base_url: str, requests: list[tuple[str, dict]], concurrency: int) -> dict:
    """Send every request, `concurrency` at a time; return timings and status counts."""
    from urllib.parse import urlencode, urlsplit
    url = urlsplit(base_url)
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    queue: asyncio.Queue = asyncio.Queue()
    for path, params in requests:
        queue.put_nowait(f"{path}?{urlencode(params)}")
    conns = [_Conn(url.hostname or "127.0.0.1", url.port or 80) for _ in range(concurrency)]

    async def worker(conn: _Conn) -> None:
        while not queue.empty():
            target = queue.get_nowait()
            t = time.perf_counter()
            status, _ = await conn.get(target)
            latencies.append(time.perf_counter() - t)
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"requests": len(requests), "wall_s": round(wall, 3),
            "requests_per_s": round(len(requests) / wall, 1), "statuses": statuses,
            "latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "latency_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coins", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--latency-ms", type=float, default=100)
    ap.add_argument("--jitter-ms", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    kwargs = dict(seed=args.seed, coins=args.coins, latency_ms=args.latency_ms,
                  jitter_ms=args.jitter_ms, weight_limit=10**9, futures_weight_limit=10**9,
                  futures_data_per_5min=10**9, funding_rate_per_5min=10**9)
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_serve, args=(child, kwargs), daemon=True)
    proc.start()
    try:
        base_url, warm_s = parent.recv()
        with httpx.Client(base_url=base_url, timeout=60) as c:
            requests = plan(c)
        floor = len(requests) * args.latency_ms / 1000 / args.concurrency
        rounds = []
        for _ in range(args.rounds):
            cpu0, client0 = _child_cpu(proc.pid), time.process_time()
            result = asyncio.run(burst(base_url, requests, args.concurrency))
            result["client_cpu_s"] = round(time.process_time() - client0, 3)
            result["ratio_to_latency_floor"] = round(result["wall_s"] / floor, 3)
            result["server_cpu_s"] = round(_child_cpu(proc.pid) - cpu0, 3)
            rounds.append(result)
        with httpx.Client(base_url=base_url) as c:
            cache = c.get("/sim/state").json()["kline_cache"]
        print(json.dumps({"coins": args.coins, "concurrency": args.concurrency,
                          "latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms,
                          "warm_up_s": round(warm_s, 2), "latency_floor_s": round(floor, 3),
                          "rounds": rounds, "kline_cache": cache}, indent=2))
    finally:
        proc.terminate()
        proc.join(5)
    return 0


def _child_cpu(pid: int) -> float:
    """CPU seconds (user + system) the simulator process has used so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


if __name__ == "__main__":
    sys.exit(main())
