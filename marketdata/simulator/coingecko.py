"""CoinGecko's public API v3 (`/coingecko/api/v3/...`): `/coins/markets`, `/coins/list`, `/ping`.

Limited to `coingecko_per_minute` calls per window per IP (30 per minute by default, no bans).
Past the limit: HTTP 429 with a lower-case `retry-after` header and CoinGecko's JSON body, or,
with `html_429`, the CDN's HTML page instead (clients must cope with a non-JSON 429).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .coins import MarketRow, MarketTable
from .ratelimit import CountLimiter, Decision
from .server import Reply, Request, Route, Service

if TYPE_CHECKING:
    from .server import SimulatorServer

SERVICE = "coingecko"
BASE = "/coingecko/api/v3"
RATE_LIMIT_MSG = ("You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/"
                  "pricing to subscribe to our API plans for higher rate limits.")
HTML_429 = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><h1>Error 1015</h1><p>You are being rate limited</p>
<p>The owner of this website (api.coingecko.com) has banned you temporarily from accessing
this website.</p><span>Cloudflare Ray ID: 8a1b2c3d4e5f6a7b</span></body></html>
"""
ORDERS = {"market_cap_desc", "market_cap_asc", "volume_desc", "volume_asc", "id_asc", "id_desc"}
CHANGE_KEYS = ("1h", "24h", "7d", "14d", "30d", "200d", "1y")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ms % 1000:03d}Z"


def _sig(x: float | None, digits: int = 8) -> float | None:
    """A float with `digits` significant digits, as CoinGecko prints prices."""
    return None if x is None else float(f"{x:.{digits}g}")


def _error(status: int, msg: str) -> Reply:
    return Reply(status, {"error": msg})


def market_json(r: MarketRow, t: int, changes: list[str]) -> dict[str, Any]:
    info, price = r.info, r.price
    cap_24h = r.open_24h * info.circulating
    row = {
        "id": info.cg_id, "symbol": r.inst.base.lower(), "name": info.name,
        "image": f"https://coin-images.coingecko.com/coins/images/{info.image_id}/large/"
                 f"{info.cg_id}.png",
        "current_price": _sig(price), "market_cap": round(r.market_cap),
        "market_cap_rank": r.rank,
        "fully_diluted_valuation": None if r.fdv is None else round(r.fdv),
        "total_volume": round(r.total_volume), "high_24h": _sig(r.high_24h),
        "low_24h": _sig(r.low_24h), "price_change_24h": _sig(price - r.open_24h),
        "price_change_percentage_24h": _sig(r.change["24h"], 6),
        "market_cap_change_24h": round(r.market_cap - cap_24h, 2),
        "market_cap_change_percentage_24h": _sig(100 * (r.market_cap / cap_24h - 1), 6)
        if cap_24h else None,
        "circulating_supply": info.circulating, "total_supply": info.total,
        "max_supply": info.max_supply, "ath": _sig(r.ath[0]),
        "ath_change_percentage": _sig(100 * (price / r.ath[0] - 1), 6), "ath_date": iso(r.ath[1]),
        "atl": _sig(r.atl[0]), "atl_change_percentage": _sig(100 * (price / r.atl[0] - 1), 6),
        "atl_date": iso(r.atl[1]), "roi": None, "last_updated": iso(t),
    }
    for key in changes:  # only what price_change_percentage asked for, as CoinGecko does
        row[f"price_change_percentage_{key}_in_currency"] = _sig(r.change.get(key), 6)
    return row


def install(sim: "SimulatorServer") -> None:
    table = MarketTable(sim.market)
    sim.market_table = table  # type: ignore[attr-defined]  # shared with LunarCrush

    def reject(d: Decision) -> Reply:
        headers = {"retry-after": str(d.retry_after)}
        if sim.html_429:
            return Reply(429, HTML_429, headers, content_type="text/html")
        return Reply(429, {"status": {"error_code": 429, "error_message": RATE_LIMIT_MSG}},
                     headers)

    limiter = CountLimiter(sim.coingecko_per_minute, sim.window_seconds, sim.clock)
    sim.add_service(Service(SERVICE, limiter, None, reject, error_body=lambda status: {
        "status": {"error_code": status, "error_message": "Internal Server Error"}}))

    def markets(req: Request) -> Reply:
        p = req.params
        if not p.get("vs_currency"):
            return _error(400, "Missing parameter vs_currency")
        if p["vs_currency"].lower() != "usd":
            return _error(400, "invalid vs_currency")
        order = p.get("order") or "market_cap_desc"
        if order not in ORDERS:
            return _error(400, "invalid order")
        try:
            per_page = min(250, max(1, int(p.get("per_page") or 100)))
            page = max(1, int(p.get("page") or 1))
        except ValueError:
            return _error(400, "invalid per_page or page")
        changes = [c.strip() for c in (p.get("price_change_percentage") or "").split(",")
                   if c.strip() in CHANGE_KEYS]
        t, rows = table.rows()
        if p.get("ids"):
            wanted = {x.strip() for x in p["ids"].split(",")}
            rows = [r for r in rows if r.info.cg_id in wanted]
        if p.get("symbols"):
            wanted = {x.strip().lower() for x in p["symbols"].split(",")}
            rows = [r for r in rows if r.inst.base.lower() in wanted]
        field, _, direction = order.rpartition("_")
        key = {"market_cap": lambda r: (r.market_cap, -r.inst.id),
               "volume": lambda r: (r.total_volume, -r.inst.id),
               "id": lambda r: r.info.cg_id}[field]
        rows = sorted(rows, key=key, reverse=direction == "desc")
        chosen = rows[(page - 1) * per_page: page * per_page]
        return Reply(200, [market_json(r, t, changes) for r in chosen])

    def coin_list(req: Request) -> Reply:
        _, rows = table.rows()
        return Reply(200, sorted(({"id": r.info.cg_id, "symbol": r.inst.base.lower(),
                                   "name": r.info.name} for r in rows), key=lambda x: x["id"]))

    for path, fn in (("/ping", lambda req: Reply(200, {"gecko_says": "(V3) To the Moon!"})),
                     ("/coins/markets", markets), ("/coins/list", coin_list)):
        sim.add_route("GET", BASE + path, Route(SERVICE, fn, 1))
