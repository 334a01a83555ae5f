"""A bounded HTTP load: `python -m cryptosatx.bench.load URL --concurrency 50 --duration 20`.

`concurrency` coroutines share one httpx.AsyncClient limited to that many connections; each sends
its next request when the last one answered (a closed loop, so the server is never sent more than
`concurrency` requests at once), cycling through the endpoints. A warm-up of `--warmup` seconds
runs first and is not counted. Prints one JSON object: per endpoint the requests, requests per
second, p50/p95/p99 latency (ms) and errors (non-200 answers and failed requests, by kind).
Runs without Django, as a process of its own, so its CPU is not the server's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter, defaultdict

import httpx


def endpoints(coins: int, rng: random.Random) -> list[tuple[str, callable]]:
    return [
        ("ranking", lambda: "/api/scan/unified-ranking"),
        ("coin", lambda: f"/api/coins/BENCH{rng.randrange(coins):04d}USDT"),
        ("win_rates", lambda: "/api/analytics/win-rates?days=30&horizon=24h"),
    ]


def percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * len(sorted_ms) + 0.5) - 1))  # nearest rank
    return round(sorted_ms[k], 2)


async def drive(base: str, concurrency: int, seconds: float, coins: int, seed: int) -> dict:
    rng = random.Random(seed)
    targets = endpoints(coins, rng)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, Counter] = defaultdict(Counter)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = time.monotonic() + seconds

        async def user(i: int) -> None:
            n = i
            while time.monotonic() < deadline:
                name, path = targets[n % len(targets)]
                n += 1
                started = time.perf_counter()
                try:
                    response = await client.get(path())
                    await response.aread()
                except httpx.HTTPError as exc:
                    errors[name][type(exc).__name__] += 1
                    continue
                latencies[name].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors[name][f"HTTP {response.status_code}"] += 1

        began = time.monotonic()
        await asyncio.gather(*(user(i) for i in range(concurrency)))
        elapsed = time.monotonic() - began
    out = {}
    for name, _ in targets:
        ms = sorted(latencies[name])
        out[name] = {"requests": len(ms) + sum(errors[name].values()) - sum(
                         v for k, v in errors[name].items() if k.startswith("HTTP")),
                     "requests_per_second": round(len(ms) / elapsed, 1),
                     "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
                     "errors": sum(errors[name].values()), "error_kinds": dict(errors[name])}
    return {"seconds": round(elapsed, 2), "endpoints": out}


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
    result = asyncio.run(drive(args.base_url, args.concurrency, args.duration, args.coins, args.seed))
    total = sum(e["requests_per_second"] for e in result["endpoints"].values())
    print(json.dumps({"concurrency": args.concurrency, "warmup_seconds": args.warmup, **result,
                      "requests_per_second": round(total, 1),
                      "errors": sum(e["errors"] for e in result["endpoints"].values())}))


if __name__ == "__main__":
    main()
