"""LunarCrush v4 (`/lunarcrush/api4/public/coins/list/v2`): social and market data of every coin.

Auth is `Authorization: Bearer <key>`: any non-empty key passes; no key passes too unless the
server runs with `require_keys` (then 401), so the offline default needs no key. Limits are
`lunarcrush_per_minute` per window and `lunarcrush_per_day` per 1,440 windows per IP; every
answer reports them in `x-rate-limit-minute-remaining`, `x-rate-limit-minute-reset` (unix
seconds) and `x-rate-limit-day-remaining`, and a 429 adds `retry-after`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .coins import MarketTable, MarketRow
from .ratelimit import Decision, QuotaLimiter
from .server import Reply, Request, Route, Service
from .social import SocialModel, SocialRow
from .universe import hour_of

if TYPE_CHECKING:
    from .server import SimulatorServer

SERVICE = "lunarcrush"
PATH = "/lunarcrush/api4/public/coins/list/v2"
DEFAULT_SORT, DEFAULT_LIMIT = "market_cap_rank", 100


def _r(x: float | None, digits: int = 8) -> float | None:
    return None if x is None else float(f"{x:.{digits}g}")


def coin_json(r: MarketRow, s: SocialRow, prev: SocialRow | None, t: int) -> dict[str, Any]:
    info = r.info
    return {
        "id": info.lunar_id, "symbol": r.inst.base, "name": info.name, "price": _r(r.price),
        "volume_24h": round(r.total_volume, 2), "volatility": s.volatility,
        "circulating_supply": info.circulating, "max_supply": info.max_supply,
        "percent_change_1h": _r(r.change["1h"], 6), "percent_change_24h": _r(r.change["24h"], 6),
        "percent_change_7d": _r(r.change["7d"], 6), "market_cap": round(r.market_cap, 2),
        "market_cap_rank": r.rank, "interactions_24h": s.interactions_24h,
        "social_volume_24h": s.social_volume_24h, "social_dominance": s.social_dominance,
        "market_dominance": s.market_dominance, "galaxy_score": s.galaxy_score,
        "galaxy_score_previous": None if prev is None else prev.galaxy_score,
        "alt_rank": s.alt_rank, "alt_rank_previous": None if prev is None else prev.alt_rank,
        "sentiment": s.sentiment, "categories": info.categories,
        "last_updated_price": t // 1000,
    }


def install(sim: "SimulatorServer") -> None:
    market = sim.market
    table: MarketTable = getattr(sim, "market_table", None) or MarketTable(market)
    social = SocialModel(market)
    sim.social = social  # type: ignore[attr-defined]
    # The social snapshots the coins list reads (this hour's and a day before), and the market table.
    sim.warmers.append(lambda now: (table.rows(now), social.snapshot(hour_of(now)), social.snapshot(hour_of(now) - 24)))

    def reject(d: Decision) -> Reply:
        return Reply(429, {"error": "Too Many Requests"})  # the limiter adds the headers

    limiter = QuotaLimiter(sim.lunarcrush_per_minute, sim.lunarcrush_per_day,
                           sim.window_seconds, sim.clock)
    sim.add_service(Service(SERVICE, limiter, None, reject,
                            error_body=lambda status: {"error": "Internal Server Error"}))

    def coins(req: Request) -> Reply:
        auth = req.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if sim.require_keys and not key:
            return Reply(401, {"error": "Unauthorized"})
        p = req.params
        try:
            limit = int(p.get("limit") or DEFAULT_LIMIT)
            page = int(p.get("page") or 0)
        except ValueError:
            return Reply(400, {"error": "limit and page must be integers"})
        if not 1 <= limit <= 1000 or page < 0:
            return Reply(400, {"error": "limit must be 1 to 1000 and page 0 or more"})
        sort = p.get("sort") or DEFAULT_SORT
        desc = (p.get("desc") or "false").lower() in ("true", "1")
        t, rows = table.rows()
        h = hour_of(t)
        now_s, prev_s = social.snapshot(h), social.snapshot(h - 24)
        data = [coin_json(r, now_s[r.inst.id], prev_s.get(r.inst.id), t)
                for r in rows if r.inst.id in now_s]
        if data and sort not in data[0]:
            return Reply(400, {"error": f"invalid sort field: {sort}"})
        present = [d for d in data if isinstance(d[sort], (int, float, str))]
        missing = [d for d in data if not isinstance(d[sort], (int, float, str))]
        present.sort(key=lambda d: (d[sort], -d["id"] if desc else d["id"]), reverse=desc)
        data = present + missing  # nulls last either way
        return Reply(200, {
            "config": {"sort": sort, "desc": desc, "limit": limit, "page": page,
                       "total_rows": len(data), "generated": int(market.now_ms() // 1000)},
            "data": data[page * limit:(page + 1) * limit],
        })

    sim.add_route("GET", PATH, Route(SERVICE, coins, 1))
