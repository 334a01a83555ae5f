"""The simulated exchange's list of instruments: old coins, cross pairs and daily new listings.

Everything is a pure function of the seed and a fixed calendar (hour 0 = 2025-01-01T00:00Z),
never of the process start time, so two simulators with the same seed agree on every symbol.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
import math
from dataclasses import dataclass

import numpy as np

ANCHOR_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z, hour index 0
HOUR_MS = 3_600_000
BLOCK_H = 32 * 24  # paths are generated in 32-day blocks, one RNG stream per (coin, block)
ORIGIN_H = -4 * BLOCK_H  # first generated hour, 128 days before the anchor
NEW_LISTING_LIFETIME_DAYS = 90  # a listing slot is reused ~90 days later (the old coin delists)
DELISTED_VISIBLE_H = 7 * 24  # a delisted pair stays in exchangeInfo as BREAK for a week

# (base asset, typical price in USDT) — the majors come first, then synthetic names.
MAJORS: list[tuple[str, float]] = [
    ("BTC", 65000.0), ("ETH", 3200.0), ("BNB", 580.0), ("SOL", 150.0), ("XRP", 0.6),
    ("DOGE", 0.15), ("ADA", 0.45), ("TRX", 0.12), ("AVAX", 30.0), ("LINK", 14.0),
    ("DOT", 6.5), ("TON", 5.5), ("SHIB", 0.000018), ("POL", 0.5), ("LTC", 80.0),
    ("BCH", 380.0), ("UNI", 8.0), ("ATOM", 7.5), ("XLM", 0.11), ("NEAR", 5.0),
    ("APT", 8.5), ("ARB", 0.9), ("OP", 1.8), ("FIL", 4.5), ("ICP", 9.0),
    ("ETC", 24.0), ("HBAR", 0.08), ("VET", 0.03), ("INJ", 22.0), ("SUI", 1.2),
    ("PEPE", 0.00001), ("AAVE", 150.0),
]
# Non-USDT pairs exist so that clients have to filter the universe by quote asset.
CROSS_PAIRS: list[tuple[str, str, float]] = [
    ("ETH", "BTC", 0.049), ("BNB", "BTC", 0.0089), ("SOL", "BTC", 0.0023),
    ("XRP", "BTC", 0.0000092), ("BTC", "USDC", 65000.0), ("ETH", "USDC", 3200.0),
    ("BTC", "FDUSD", 65000.0), ("BNB", "ETH", 0.18),
]
_RESERVED = {"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "TRY"}
_CONSONANTS = "BCDFGHJKLMNPRSTVWXZ"
_VOWELS = "AEIOU"
_PARAM_TAG, _NAME_TAG, _LISTING_TAG = 7, 11, 13


def unit_hash(*keys: int) -> float:
    """A uniform number in [0, 1) from integer keys, stable across processes (unlike hash())."""
    digest = hashlib.blake2b(":".join(map(str, keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def hour_ms(h: int) -> int:
    return ANCHOR_MS + h * HOUR_MS


def hour_of(ms: int) -> int:
    return (ms - ANCHOR_MS) // HOUR_MS


@dataclass(frozen=True)
class Instrument:
    """One trading pair and the parameters of its price path."""

    id: int  # RNG key; stable per pair
    symbol: str
    base: str
    quote: str
    list_h: int  # hour index of its first candle
    delist_h: int | None  # first hour without trading (None: trades forever)
    fixed_status: str  # TRADING, or BREAK/HALT for the few permanently paused pairs
    price0: float  # listing price and long-run level the path reverts to
    tick: float
    step: float
    beta: float  # loading on BTC's hourly return
    sigma: float  # typical hourly idiosyncratic volatility (log)
    qvol: float  # typical hourly quote volume
    trade_size: float  # typical quote amount per trade
    waves: tuple[tuple[float, float, float], ...]  # (amplitude, period_h, phase) of log-vol

    def status(self, now_h: int) -> str:
        if self.delist_h is not None and now_h >= self.delist_h:
            return "BREAK"
        return self.fixed_status

    def visible(self, now_h: int) -> bool:
        if now_h < self.list_h:
            return False
        return self.delist_h is None or now_h < self.delist_h + DELISTED_VISIBLE_H


def _tick_for(price: float) -> float:
    return min(0.01, max(1e-8, 10.0 ** (math.floor(math.log10(price)) - 4)))


def _step_for(usd_price: float) -> float:
    """Lot size: about a dollar's worth or less, as on Binance (0.00001 BTC, 1 DOGE)."""
    return 10.0 ** max(-8, min(0, math.floor(math.log10(1.0 / usd_price))))


def _make(seed: int, iid: int, base: str, quote: str, list_h: int, delist_h: int | None,
          status: str, price0: float, *, beta: tuple[float, float], sigma: tuple[float, float],
          qvol: tuple[float, float], usd_price: float | None = None) -> Instrument:
    rng = np.random.default_rng([seed, _PARAM_TAG, iid])
    lo_b, hi_b = beta
    periods = ((5, 15), (20, 45), (60, 120))  # days: fast, medium and slow volatility regimes
    waves = tuple(
        (amp, float(rng.uniform(*p)) * 24, float(rng.uniform(0, 2 * math.pi)))
        for amp, p in zip((0.3, 0.25, 0.2), periods)
    )
    return Instrument(
        id=iid, symbol=base + quote, base=base, quote=quote, list_h=list_h, delist_h=delist_h,
        fixed_status=status, price0=price0, tick=_tick_for(price0),
        step=_step_for(usd_price or price0),
        beta=float(rng.uniform(lo_b, hi_b)), sigma=float(rng.uniform(*sigma)),
        qvol=float(math.exp(rng.uniform(math.log(qvol[0]), math.log(qvol[1])))),
        trade_size=float(math.exp(rng.uniform(math.log(40), math.log(900)))), waves=waves,
    )


class Universe:
    """All instruments of one seed. Listings are computed lazily, day by day, and cached."""

    def __init__(self, seed: int, n_coins: int) -> None:
        if n_coins < 2:
            raise ValueError("the simulator needs at least 2 coins (BTC and one more)")
        self.seed = seed
        # ~35% of the USDT pairs are listing slots; each holds a coin for ~90 days.
        self.slots = max(1, round(0.35 * n_coins))
        self.n_old = n_coins - self.slots
        self.rate = self.slots / NEW_LISTING_LIFETIME_DAYS  # expected listings per day
        self._used = {b for b, _ in MAJORS} | _RESERVED
        self.old: list[Instrument] = []
        # The last few old pairs are paused (BREAK/HALT) so that clients must filter on status.
        n_paused = max(2, n_coins // 100) if self.n_old >= 6 else 0
        for i in range(self.n_old):
            self.old.append(self._old_coin(i, paused=i >= self.n_old - n_paused,
                                           k=i - (self.n_old - n_paused)))
        self.cross = [
            _make(seed, 100_000 + k, b, q, ORIGIN_H + 24 * (k + 1), None, "TRADING", p,
                  beta=(0.1, 0.3) if q in ("BTC", "ETH") else (0.98, 1.0),
                  sigma=(0.002, 0.004) if q in ("BTC", "ETH") else (0.0003, 0.0005),
                  qvol=(2e5, 3e6), usd_price=dict(MAJORS)[b])
            for k, (b, q, p) in enumerate(CROSS_PAIRS) if k < max(2, n_coins // 20)
        ]
        self._listings: list[Instrument] = []
        self._listing_hours: list[int] = []
        self._next_day = ORIGIN_H // 24  # the listing process starts with the generated history

    def _name(self, iid: int) -> str:
        rng = np.random.default_rng([self.seed, _NAME_TAG, iid])
        while True:
            n = int(rng.integers(3, 7))
            start_vowel = rng.random() < 0.25
            name = "".join(
                (_VOWELS if (j % 2 == 0) == start_vowel else _CONSONANTS)[
                    int(rng.integers(0, 5 if (j % 2 == 0) == start_vowel else 19))]
                for j in range(n)
            )
            if name not in self._used and not name.startswith("USD"):
                self._used.add(name)
                return name

    def _old_coin(self, i: int, paused: bool, k: int) -> Instrument:
        # BTC trades from the first generated hour; other old coins list within 60 days of it.
        list_h = ORIGIN_H if i == 0 else ORIGIN_H + int(unit_hash(self.seed, 3, i) * 60 * 24)
        status = ("BREAK", "HALT")[k % 2] if paused else "TRADING"
        if i < len(MAJORS):
            base, price = MAJORS[i]
            qv = 6e7 / (i + 1) ** 1.1
            return _make(self.seed, i, base, "USDT", list_h, None, status, price,
                         beta=(0.0, 0.0) if i == 0 else (0.8, 1.3),
                         sigma=(0.005, 0.006) if i == 0 else (0.004, 0.009),
                         qvol=(qv * 0.8, qv * 1.25))
        price = math.exp(-4.6 + 9.9 * unit_hash(self.seed, 5, i) ** 1.5)  # ~0.01 .. ~200
        return _make(self.seed, i, self._name(i), "USDT", list_h, None, status, price,
                     beta=(0.6, 1.6), sigma=(0.005, 0.014), qvol=(2e4, 3e6))

    def _extend_listings(self, until_h: int) -> None:
        """Generate listing events day by day, a full slot cycle beyond hour until_h.

        Event n occupies slot n % slots and delists when event n + slots lists, so the events
        one cycle ahead of now are needed to know when the visible ones delist."""
        hours_list = self._listing_hours
        while len(hours_list) < bisect_right(hours_list, until_h) + self.slots + 1:
            d = self._next_day
            self._next_day += 1
            lam = self.rate * (0.5 + unit_hash(self.seed, _LISTING_TAG, d, 1))
            count = math.floor(lam + unit_hash(self.seed, _LISTING_TAG, d, 2))
            hours = sorted(int(unit_hash(self.seed, _LISTING_TAG, d, 3, j) * 24)
                           for j in range(count))
            self._listing_hours.extend(d * 24 + h for h in hours)
        # Materialise instruments whose delisting hour is now known.
        while len(self._listings) + self.slots < len(self._listing_hours):
            n = len(self._listings)
            iid = 200_000 + n
            price = math.exp(math.log(0.004) + unit_hash(self.seed, 17, n) * math.log(1500))
            self._listings.append(
                _make(self.seed, iid, self._name(iid), "USDT", self._listing_hours[n],
                      self._listing_hours[n + self.slots], "TRADING", price,
                      beta=(0.5, 1.5), sigma=(0.012, 0.03), qvol=(5e4, 2e6)))

    def visible(self, now_h: int) -> list[Instrument]:
        """Pairs present in exchangeInfo at hour now_h, in a stable order."""
        self._extend_listings(now_h)
        new = [x for x in self._listings if x.visible(now_h)]
        return [x for x in self.old + self.cross if x.visible(now_h)] + new

    def btc(self) -> Instrument:
        return self.old[0]
