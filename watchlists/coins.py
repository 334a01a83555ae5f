"""Symbols as users type them → the coins CryptoSatX knows."""
from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q

from marketdata.models import Coin

SEPARATORS = re.compile(r"[\s,;]+")


def split_symbols(values: Iterable[str]) -> list[str]:
    """"btc, ETHUSDT  sol" or ["btc", "ETHUSDT"] → ["BTC", "ETHUSDT", "SOL"]: upper case, no duplicates,
    in the order given."""
    tokens = (t.strip().upper() for value in values for t in SEPARATORS.split(str(value)))
    return list(dict.fromkeys(t for t in tokens if t))


def shown(token: str) -> str:
    """A token as an error message may quote it: long garbage is cut, not echoed in full."""
    return token if len(token) <= 24 else token[:24] + "…"


def resolve(tokens: list[str]) -> tuple[list[Coin], list[str]]:
    """(the coins, the tokens that name none). A token is a symbol (BTCUSDT) or a base asset quoted in
    SCAN_QUOTE_ASSET (BTC → BTCUSDT). One query, whatever the number of tokens."""
    if not tokens:
        return [], []
    quote = settings.SCAN_QUOTE_ASSET
    found = list(Coin.objects.filter(Q(symbol__in=tokens) | Q(base_asset__in=tokens, quote_asset=quote)))
    by_symbol = {c.symbol: c for c in found}
    by_base = {c.base_asset: c for c in found if c.quote_asset == quote}
    coins: dict[int, Coin] = {}
    unknown = []
    for token in tokens:
        coin = by_symbol.get(token) or by_base.get(token)
        if coin is None:
            unknown.append(token)
        else:
            coins.setdefault(coin.pk, coin)
    return list(coins.values()), unknown


def unknown_message(unknown: list[str]) -> str:
    names = ", ".join(shown(t) for t in unknown)
    hint = "" if Coin.objects.exists() else " No coin is known yet: run a scan first (make run does)."
    return (f"Unknown symbol{'s' if len(unknown) > 1 else ''}: {names}. Use a symbol such as BTCUSDT or a base "
            f"asset such as BTC.{hint}")
