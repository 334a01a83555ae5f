"""The simulator's own endpoints (`/sim/...`): health, rate-limit and fault state, and the
ground truth of planted episodes. They cost no weight, are never delayed and never faulted."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .episodes import coin_episodes
from .universe import HOUR_MS, hour_of
from .server import Reply, Request, Route, Service

if TYPE_CHECKING:
    from .server import SimulatorServer

SERVICE = "sim"
MAX_EPISODE_RANGE_MS = 400 * 24 * HOUR_MS


def install(sim: "SimulatorServer") -> None:
    sim.add_service(Service(SERVICE, delayed=False, faultable=False))
    market = sim.market

    def health(req: Request) -> Reply:
        return Reply(200, {"ok": True, "seed": sim.seed, "coins": sim.coins})

    def state(req: Request) -> Reply:
        """Rate-limit state for tests and the app's status page; costs no weight."""
        per_service = {name: s.limiter.snapshot() for name, s in sim.services.items()
                       if s.limiter is not None}
        for name, route in list(sim.routes.items()):
            if route.cap is not None:  # caps shared by several routes are listed once
                per_service.setdefault(route.service + "_caps", {})[
                    _cap_name(name[1])] = route.cap.limiter.snapshot()
        spot = per_service.get("binance_spot", {"weights": {}, "bans": {}})
        with sim._lock:
            requests, counts = sim.requests, dict(sim.status_counts)
        return Reply(200, {"weights": spot["weights"], "bans": spot["bans"],
                           "requests": requests, "status_counts": counts,
                           "services": per_service, "faults": sim.faults.snapshot(),
                           "kline_cache": market.kline_book.stats(), "warm": sim.warm_state,
                           "config": config()})

    def config() -> dict:
        f = sim.faults
        return {
            "weight_limit": sim.weight_limit, "window_seconds": sim.window_seconds,
            "ban_after": sim.ban_after, "futures_weight_limit": sim.futures_weight_limit,
            "futures_data_per_5min": sim.futures_data_per_5min,
            "funding_rate_per_5min": sim.funding_rate_per_5min,
            "coingecko_per_minute": sim.coingecko_per_minute, "html_429": sim.html_429,
            "lunarcrush_per_minute": sim.lunarcrush_per_minute,
            "lunarcrush_per_day": sim.lunarcrush_per_day, "require_keys": sim.require_keys,
            "error_rate": f.error_rate, "timeout_rate": f.timeout_rate,
            "malformed_rate": f.malformed_rate, "timeout_seconds": f.timeout_seconds,
            "latency_ms": sim.latency_ms, "jitter_ms": sim.jitter_ms,
            "follow_through_prob": market.params.follow_through_prob,
        }

    def episodes(req: Request) -> Reply:
        """Planted episodes overlapping [start, end] that have started by now, oldest first."""
        now = market.now_ms()
        try:
            end = int(req.params["end"]) if req.params.get("end") else now
            start = int(req.params["start"]) if req.params.get("start") else end - 7 * 24 * HOUR_MS
        except ValueError:
            return Reply(400, {"error": "start and end must be integers (ms since the epoch)"})
        if start > end:
            return Reply(400, {"error": "start is after end"})
        if end - start > MAX_EPISODE_RANGE_MS:
            return Reply(400, {"error": "the range may span at most 400 days"})
        end = min(end, now)
        h_lo, h_hi = hour_of(start), hour_of(end)
        out = []
        for inst in market.instruments_until(h_hi):
            for ep in coin_episodes(sim.seed, inst, h_lo, h_hi, market.params):
                row = ep.as_json(inst.symbol)
                if row["start"] <= now and row["start"] <= end and row["end"] > start:
                    out.append(row)
        out.sort(key=lambda r: (r["start"], r["symbol"]))
        return Reply(200, out)

    for path, fn in (("/sim/health", health), ("/sim/state", state), ("/sim/episodes", episodes)):
        sim.add_route("GET", path, Route(SERVICE, fn, 0))


def _cap_name(path: str) -> str:
    return "futures_data" if path.startswith("/futures/data/") else path.rsplit("/", 1)[-1]
