"""Coins as the aggregators (CoinGecko, LunarCrush) see them: ids, names and supply, and a
per-minute table of market data derived from the spot paths.

Supply is fixed per coin (a pure function of seed and coin): majors get roughly their real
market caps, older coins a cap that matches their trading volume, and new listings a small
fully diluted valuation (mostly 1M-80M) with 5-60% of the supply circulating. A few coins
have no known total supply, so their FDV is null, as on CoinGecko.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .universe import HOUR_MS, Instrument, hour_ms, hour_of

if TYPE_CHECKING:
    from .market import SimMarket

_COIN_TAG = 31
MINUTE_MS = 60_000
# CoinGecko id, name and a market cap in USD at the coin's typical price.
MAJOR_INFO: dict[str, tuple[str, str, float]] = {
    "BTC": ("bitcoin", "Bitcoin", 1.3e12), "ETH": ("ethereum", "Ethereum", 3.85e11),
    "BNB": ("binancecoin", "BNB", 8.5e10), "SOL": ("solana", "Solana", 7.0e10),
    "XRP": ("ripple", "XRP", 3.3e10), "DOGE": ("dogecoin", "Dogecoin", 2.1e10),
    "ADA": ("cardano", "Cardano", 1.6e10), "TRX": ("tron", "TRON", 1.05e10),
    "AVAX": ("avalanche-2", "Avalanche", 1.2e10), "LINK": ("chainlink", "Chainlink", 8.5e9),
    "DOT": ("polkadot", "Polkadot", 9.0e9), "TON": ("the-open-network", "Toncoin", 1.4e10),
    "SHIB": ("shiba-inu", "Shiba Inu", 1.06e10),
    "POL": ("polygon-ecosystem-token", "POL (ex-MATIC)", 4.5e9),
    "LTC": ("litecoin", "Litecoin", 6.0e9), "BCH": ("bitcoin-cash", "Bitcoin Cash", 7.5e9),
    "UNI": ("uniswap", "Uniswap", 4.8e9), "ATOM": ("cosmos", "Cosmos Hub", 2.9e9),
    "XLM": ("stellar", "Stellar", 3.2e9), "NEAR": ("near", "NEAR Protocol", 5.4e9),
    "APT": ("aptos", "Aptos", 4.0e9), "ARB": ("arbitrum", "Arbitrum", 3.0e9),
    "OP": ("optimism", "Optimism", 2.2e9), "FIL": ("filecoin", "Filecoin", 2.6e9),
    "ICP": ("internet-computer", "Internet Computer", 4.2e9),
    "ETC": ("ethereum-classic", "Ethereum Classic", 3.5e9),
    "HBAR": ("hedera-hashgraph", "Hedera", 2.9e9), "VET": ("vechain", "VeChain", 2.4e9),
    "INJ": ("injective-protocol", "Injective", 2.1e9), "SUI": ("sui", "Sui", 3.2e9),
    "PEPE": ("pepe", "Pepe", 4.2e9), "AAVE": ("aave", "Aave", 2.2e9),
}
_MAJOR_IDS = {v[0] for v in MAJOR_INFO.values()}
_SUFFIXES = ("", "", "", " Protocol", " Network", " Finance", " AI", " Chain", " Labs", " DAO")
CATEGORIES = ("layer-1", "layer-2", "defi", "meme", "ai", "gaming", "nft", "infrastructure",
              "exchange-tokens", "real-world-assets", "depin", "privacy")
_PRE_HISTORY_MS = 1_609_459_200_000  # 2021-01-01: old coins' all-time highs predate the paths


@dataclass(frozen=True)
class CoinInfo:
    cg_id: str
    name: str
    circulating: float
    total: float | None  # None: unknown total supply (FDV is then null)
    max_supply: float | None
    volume_mult: float  # all-exchange volume / this exchange's spot volume
    ath_pre: tuple[float, int] | None  # (price, ms) before the simulated history
    atl_pre: tuple[float, int] | None
    lunar_id: int
    categories: str
    image_id: int
    social_base: float  # typical social_volume_24h (posts)
    engagement: float  # interactions per post
    sentiment_base: float
    galaxy_bias: float
    listing_galaxy: float  # extra Galaxy Score of a fresh listing (decays over days)
    listing_alt: float  # extra AltRank score of a fresh listing


@lru_cache(maxsize=8192)
def coin_info(seed: int, inst: Instrument) -> CoinInfo:
    u = np.random.default_rng([seed, _COIN_TAG, inst.id]).random(20)
    new = inst.id >= 200_000
    vol_mult = math.exp(math.log(1.5) + u[0] * math.log(4 / 1.5))
    total_known = u[1] >= (0.06 if new else 0.08)
    if inst.base in MAJOR_INFO:
        cg_id, name, mcap = MAJOR_INFO[inst.base]
        circ = mcap / inst.price0
        total = circ if inst.base == "BTC" else circ / (0.6 + 0.4 * u[2])
        max_supply = 21e6 if inst.base == "BTC" else (total if u[3] < 0.5 else None)
        total_known = True
    else:
        name = inst.base.capitalize() + _SUFFIXES[int(u[4] * len(_SUFFIXES))]
        cg_id = name.lower().replace(" ", "-")
        if cg_id in _MAJOR_IDS:  # a synthetic SOLANA must not take Solana's id
            cg_id += "-token"
        if new:  # small caps: FDV mostly a few million, rarely up to 80M
            fdv = 1e6 * 80 ** (u[2] ** 1.6)
            total = fdv / inst.price0
            circ = total * (0.05 + 0.55 * u[3])
            max_supply = total if u[5] < 0.6 else None
        else:  # market cap in line with volume: 1-30% of it trades per day
            turnover = math.exp(math.log(0.01) + u[2] * math.log(30))
            circ = inst.qvol * 24 * vol_mult / turnover / inst.price0
            total = circ / (0.3 + 0.7 * u[3])
            max_supply = total * (1 + 0.5 * u[5]) if u[5] < 0.65 else None
        mcap = circ * inst.price0
    if not total_known:
        total = max_supply = None
    ath_pre = atl_pre = None
    if not new:
        span = max(1, hour_ms(inst.list_h) - _PRE_HISTORY_MS - 30 * 24 * HOUR_MS)
        ath_pre = (inst.price0 * math.exp(math.log(1.5) + u[6] * math.log(8)),
                   _PRE_HISTORY_MS + int(u[7] * span) // 1000 * 1000)
        atl_pre = (inst.price0 * (0.02 + 0.48 * u[8]), _PRE_HISTORY_MS - int(u[9] * 9.4e10))
    cats = [CATEGORIES[int(u[10] * len(CATEGORIES))]]
    if u[11] < 0.4:
        cats.append(CATEGORIES[int(u[12] * len(CATEGORIES))])
    return CoinInfo(
        cg_id=cg_id, name=name, circulating=round(circ, 2),
        total=None if total is None else round(total, 2),
        max_supply=None if max_supply is None else round(max_supply, 2),
        volume_mult=vol_mult, ath_pre=ath_pre, atl_pre=atl_pre,
        lunar_id=inst.id + 1 if inst.id < 200_000 else inst.id - 150_000,
        categories=",".join(dict.fromkeys(cats)), image_id=1 + inst.id % 39_000,
        social_base=0.45 * mcap ** 0.45 * math.exp(0.6 * (u[13] - 0.5) * 3.46),
        engagement=math.exp(math.log(30) + u[14] * math.log(20)),
        sentiment_base=55 + 27 * u[15], galaxy_bias=-10 + 20 * u[16],
        listing_galaxy=(-10 + 45 * u[17]) if new else 0.0,
        listing_alt=60 * u[18] if new else 0.0,
    )


@dataclass(frozen=True)
class MarketRow:
    inst: Instrument
    info: CoinInfo
    price: float
    open_24h: float
    high_24h: float
    low_24h: float
    total_volume: float  # USD, all exchanges
    change: dict[str, float | None]  # percent change over "1h", "24h", "7d", "14d", "30d"
    market_cap: float
    fdv: float | None
    rank: int
    ath: tuple[float, int]  # (price, ms)
    atl: tuple[float, int]


class MarketTable:
    """Per-minute snapshots of every USDT coin's market data, as an aggregator would show."""

    LOOKBACK = {"1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 168 * HOUR_MS, "14d": 336 * HOUR_MS,
                "30d": 720 * HOUR_MS}

    def __init__(self, market: "SimMarket") -> None:
        self.market = market
        self._cache: dict[int, list[MarketRow]] = {}
        self._lock = threading.Lock()  # one build at a time; never held while sleeping

    def rows(self, now_ms: int | None = None) -> tuple[int, list[MarketRow]]:
        """(snapshot time, rows ordered by market cap, largest first)."""
        now = self.market.now_ms() if now_ms is None else now_ms
        t = now // MINUTE_MS * MINUTE_MS
        with self._lock:
            if t not in self._cache:
                self._cache = {t: self._build(t), **{k: v for k, v in self._cache.items()
                                                     if k > t - 5 * MINUTE_MS}}
            return t, self._cache[t]

    def _build(self, t: int) -> list[MarketRow]:
        m = self.market
        rows = []
        for inst in m.instruments(t):
            if inst.quote != "USDT":
                continue
            info = coin_info(m.seed, inst)
            tk = m.ticker_24h(inst.symbol, t)
            price, open_ = float(tk["lastPrice"]), float(tk["openPrice"])
            change: dict[str, float | None] = {}
            for key, back in self.LOOKBACK.items():
                then = open_ if key == "24h" else m.price_at(inst, t - back, t)
                change[key] = None if not then or t - back < hour_ms(inst.list_h) \
                    else 100 * (price / then - 1)
            ext = m.extremes(inst, hour_of(t) - 1, t)
            ath, atl = (price, t), (price, t)
            if ext is not None:
                ath = max(ath, (ext[0], hour_ms(ext[1] + 1)))
                atl = min(atl, (ext[2], hour_ms(ext[3] + 1)))
            if info.ath_pre and info.ath_pre[0] > ath[0]:
                ath = info.ath_pre
            if info.atl_pre and info.atl_pre[0] < atl[0]:
                atl = info.atl_pre
            rows.append(MarketRow(
                inst=inst, info=info, price=price, open_24h=open_,
                high_24h=float(tk["highPrice"]), low_24h=float(tk["lowPrice"]),
                total_volume=float(tk["quoteVolume"]) * info.volume_mult, change=change,
                market_cap=price * info.circulating,
                fdv=None if info.total is None else price * info.total, rank=0, ath=ath, atl=atl))
        rows.sort(key=lambda r: (-r.market_cap, r.inst.id))
        return [MarketRow(**{**r.__dict__, "rank": i + 1}) for i, r in enumerate(rows)]
