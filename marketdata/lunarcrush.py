"""LunarCrush v4 (APIS.md): `/public/coins/list/v2`, the Galaxy Score, AltRank and social data of
every coin in one envelope. Limits come from its quota headers (see marketdata.http)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import MalformedResponseError
from .http import ServiceClient

SERVICE = "lunarcrush"
NUMERIC = ("galaxy_score", "galaxy_score_previous", "alt_rank", "alt_rank_previous", "sentiment",
           "social_volume_24h", "interactions_24h", "social_dominance", "volume_24h", "percent_change_24h",
           "market_cap", "price")


@dataclass(frozen=True)
class SocialCoin:
    symbol: str
    name: str
    values: dict[str, float | None]  # every NUMERIC field; None when LunarCrush sent null or nothing

    def __getattr__(self, name: str) -> float | None:
        if name in NUMERIC:
            return self.values.get(name)
        raise AttributeError(name)

    @classmethod
    def parse(cls, row: Any) -> "SocialCoin":
        if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
            raise MalformedResponseError(f"coin row lacks a symbol: {str(row)[:80]}", service=SERVICE)
        values: dict[str, float | None] = {}
        for field in NUMERIC:
            v = row.get(field)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise MalformedResponseError(f"field {field} of {row['symbol']} is not a number: {v!r}", service=SERVICE)
            values[field] = None if v is None else float(v)
        return cls(symbol=row["symbol"].upper(), name=str(row.get("name", "")), values=values)


@dataclass(frozen=True)
class SocialPage:
    coins: list[SocialCoin]
    total_rows: int | None


class LunarCrush:
    def __init__(self, http: ServiceClient):
        self.http = http

    async def coins(self, page: int = 0, limit: int = 1000, sort: str = "alt_rank", desc: bool = False) -> SocialPage:
        def parse(body: Any) -> SocialPage:
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise MalformedResponseError("coins/list/v2 has no data list", service=SERVICE)
            config = body.get("config") if isinstance(body.get("config"), dict) else {}
            total = config.get("total_rows")
            return SocialPage([SocialCoin.parse(r) for r in body["data"]], total if isinstance(total, int) else None)
        return await self.http.get_json("/public/coins/list/v2", {
            "sort": sort, "limit": max(1, min(limit, 1000)), "page": page, "desc": str(desc).lower()}, parse=parse)

    async def all_coins(self, max_pages: int = 5) -> SocialPage:
        out: list[SocialCoin] = []
        total = None
        for page in range(max_pages):
            got = await self.coins(page=page)
            out.extend(got.coins)
            total = got.total_rows if got.total_rows is not None else total
            if len(got.coins) < 1000 or (total is not None and len(out) >= total):
                break
        return SocialPage(out, total)
