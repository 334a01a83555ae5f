"""CoinGecko (APIS.md): `/coins/markets` for FDV, market cap and supply; `/coins/list` for ids.
Numbers may be null; a null stays None (missing), never 0."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import MalformedResponseError
from .http import ServiceClient

SERVICE = "coingecko"


def _opt_num(row: dict, field: str) -> float | None:
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedResponseError(f"field {field} is not a number or null: {value!r}", service=SERVICE)
    return float(value)


@dataclass(frozen=True)
class Market:
    id: str
    symbol: str  # upper-case ticker, e.g. "BTC"
    name: str
    current_price: float | None
    market_cap: float | None
    fully_diluted_valuation: float | None
    total_volume: float | None
    circulating_supply: float | None
    total_supply: float | None
    max_supply: float | None
    last_updated: str | None

    @property
    def circulating_share_pct(self) -> float | None:
        supply = self.total_supply or self.max_supply
        if self.circulating_supply is None or not supply:
            return None
        return 100 * self.circulating_supply / supply

    @classmethod
    def parse(cls, row: Any) -> "Market":
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("symbol"), str):
            raise MalformedResponseError(f"market row lacks id/symbol: {str(row)[:80]}", service=SERVICE)
        return cls(id=row["id"], symbol=row["symbol"].upper(), name=str(row.get("name", "")),
                   current_price=_opt_num(row, "current_price"), market_cap=_opt_num(row, "market_cap"),
                   fully_diluted_valuation=_opt_num(row, "fully_diluted_valuation"),
                   total_volume=_opt_num(row, "total_volume"), circulating_supply=_opt_num(row, "circulating_supply"),
                   total_supply=_opt_num(row, "total_supply"), max_supply=_opt_num(row, "max_supply"),
                   last_updated=row.get("last_updated"))


class CoinGecko:
    def __init__(self, http: ServiceClient):
        self.http = http

    async def markets(self, page: int = 1, per_page: int = 250, order: str = "market_cap_desc") -> list[Market]:
        def parse(body: Any) -> list[Market]:
            if not isinstance(body, list):
                raise MalformedResponseError("coins/markets is not a list", service=SERVICE)
            return [Market.parse(r) for r in body]
        return await self.http.get_json("/coins/markets", {
            "vs_currency": "usd", "order": order, "per_page": max(1, min(per_page, 250)), "page": page,
            "price_change_percentage": "1h,24h,7d"}, parse=parse)

    async def all_markets(self, max_pages: int = 8) -> list[Market]:
        """Pages of 250 until a short page (each page is one call of the per-minute budget)."""
        out: list[Market] = []
        for page in range(1, max_pages + 1):
            rows = await self.markets(page=page)
            out.extend(rows)
            if len(rows) < 250:
                break
        return out

    async def coin_ids(self) -> list[dict[str, str]]:
        def parse(body: Any) -> list[dict[str, str]]:
            if not isinstance(body, list):
                raise MalformedResponseError("coins/list is not a list", service=SERVICE)
            return [{"id": str(r["id"]), "symbol": str(r["symbol"]).upper(), "name": str(r.get("name", ""))}
                    for r in body if isinstance(r, dict) and "id" in r and "symbol" in r]
        return await self.http.get_json("/coins/list", parse=parse)
