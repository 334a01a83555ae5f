"""Telegram message bodies (HTML parse mode) from the templates in templates/signals/telegram/.

Autoescape is on, so a symbol or reason containing <, > or & reaches Telegram escaped. Every
message stays within Telegram's 4096 characters (counted in UTF-16 units, as Telegram does):
the breakdown is cut, never the header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from django.conf import settings
from django.template.loader import render_to_string

from .models import Signal

MAX_LENGTH = 4096
MAX_REASON_CHARS = 300  # one breakdown line; the raw text is cut before escaping, never inside an entity
TIERS = {
    1: {"emoji": "🚨", "priority": "URGENT", "LONG": "MUST BUY", "SHORT": "MUST SELL"},
    2: {"emoji": "⚠️", "priority": "HIGH", "LONG": "STRONG BUY", "SHORT": "STRONG SELL"},
    3: {"emoji": "ℹ️", "priority": "MEDIUM", "LONG": "WATCHLIST", "SHORT": "WATCHLIST"},
}
SCANNER_NAMES = {"smart_money": "Smart Money", "mss": "MSS Discovery", "rsi": "RSI", "social": "Social Trending",
                 "unified": "Unified Score"}
KIND_NAMES = {"accumulating": "Accumulation", "distributing": "Distribution", "oversold": "Oversold",
              "overbought": "Overbought", "gem": "New listing", "trending": "Trending", "unified": ""}
OUT_OF_10 = {"accumulation", "distribution", "technical"}
OUT_OF_100 = {"mss", "momentum", "unified_score"}


@dataclass(frozen=True)
class TrackRecord:
    """A tier's measured history (DESIGN.md "Honesty"): every number with its n."""
    n: int
    horizon: str
    win_rate: float
    win_rate_low: float
    win_rate_high: float
    median_pnl_pct: float


# The measured record comes from the performance app, which depends on signals, not the other way
# round: it registers its reader here when Django starts (performance.apps.PerformanceConfig.ready).
_record_reader: Callable[[int], dict | None] | None = None


def set_record_reader(reader: Callable[[int], dict | None] | None) -> None:
    global _record_reader
    _record_reader = reader


def tier_track_record(tier: int) -> TrackRecord | None:
    """The measured outcomes of past signals of this tier, or None while there is not enough history.

    The tier's evaluated outcomes at the 24h horizon over the last 90 days (performance.queries.tier_record):
    None below 10 of them, so messages say "not enough history yet" instead of the plan's "Expected
    Return". Rates are in percent here (the templates print them with a %); the median is the trade's
    return (direction-aware)."""
    record = _record_reader(tier) if _record_reader else None
    if record is None:
        return None
    return TrackRecord(n=record["n"], horizon=record["horizon"], win_rate=record["win_rate"] * 100,
                       win_rate_low=record["win_rate_low"] * 100, win_rate_high=record["win_rate_high"] * 100,
                       median_pnl_pct=record["median_return_pct"])


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def tidy(text: str) -> str:
    """Template layout → message: no trailing spaces, at most one blank line in a row."""
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", text)


def site_url() -> str:
    """SITE_URL without its trailing slash, or "" (links are then relative)."""
    return (getattr(settings, "SITE_URL", "") or "").rstrip("/")


def coin_url(symbol: str) -> str:
    return f"{site_url()}/coins/{symbol}"


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{round(x, digits):g}"


def score_text(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "rsi":
        return f"RSI {value:.1f}"
    if metric in OUT_OF_10:
        return f"{_num(value)}/10 ({metric})"
    if metric in OUT_OF_100:
        return f"{_num(value)}/100" + ("" if metric == "unified_score" else f" ({metric.upper() if metric == 'mss' else metric})")
    return f"{_num(value, 2)} ({metric})"


def signal_type(signal: Signal) -> str:
    scanner = SCANNER_NAMES.get(signal.scanner, signal.scanner)
    kind = KIND_NAMES.get(signal.kind, signal.kind.replace("_", " ").title())
    if signal.scanner == "unified":
        tier = (signal.scores or {}).get("tier") or ""
        label = (signal.scores or {}).get("label") or ""
        return f"{scanner} · {tier} ({label})" if tier else scanner
    return f"{scanner} · {kind}" if kind else scanner


def price_text(price: float | None) -> str | None:
    return None if price is None else f"{price:.8g}"


def _clip(text: str, limit: int = MAX_REASON_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tier(signal: Signal) -> dict:
    style = TIERS.get(signal.tier, TIERS[3])
    return {"number": signal.tier, "emoji": style["emoji"], "priority": style["priority"],
            "label": style.get(signal.direction, style["LONG"])}


def alert_context(signal: Signal) -> dict:
    symbol = signal.coin.symbol
    return {
        "tier": _tier(signal), "symbol": symbol, "signal_type": signal_type(signal), "direction": signal.direction,
        "score": score_text(signal.score_metric, signal.score),
        "unified": None if signal.scanner == "unified" or signal.unified_score is None
        else f"{_num(signal.unified_score)}/100",
        "entry": price_text(signal.entry_price), "candle": f"{signal.candle_close_time:%Y-%m-%d %H:%M} UTC",
        "rules": [_clip(r, 120) for r in signal.rules_matched or []],
        "track": tier_track_record(signal.tier), "url": coin_url(symbol), "simulated": signal.simulated,
    }


def render_alert(signal: Signal) -> str:
    """One alert; the breakdown (the scanner's reasons) is cut from the end to fit 4096."""
    context = alert_context(signal)
    lines = [_clip(r) for r in (signal.reasons or [])]
    keep = len(lines)
    while True:
        text = tidy(render_to_string("signals/telegram/alert.html",
                                     {**context, "breakdown": lines[:keep], "more": len(lines) - keep}))
        if telegram_length(text) <= MAX_LENGTH or keep == 0:
            return text
        keep = max(0, keep - max(1, (keep // 8)))


def digest_item(signal: Signal) -> dict:
    return {"tier": _tier(signal), "symbol": signal.coin.symbol, "signal_type": signal_type(signal),
            "direction": signal.direction, "score": score_text(signal.score_metric, signal.score),
            "url": coin_url(signal.coin.symbol)}


def render_digest(signals: Sequence[Signal]) -> tuple[str, int]:
    """One message listing several alerts for one chat. Returns the text and how many of
    `signals` (from the start) it lists: the rest did not fit and must wait for the next message."""
    items = [digest_item(s) for s in signals]
    tiers = sorted({s.tier for s in signals})
    keep = len(items)
    while True:
        shown = items[:keep]
        text = tidy(render_to_string("signals/telegram/digest.html", {
            "count": len(shown), "items": shown,
            "tiers": [{"number": t, "emoji": TIERS[t]["emoji"], "count": sum(1 for i in shown if i["tier"]["number"] == t),
                       "track": tier_track_record(t)} for t in tiers if any(i["tier"]["number"] == t for i in shown)],
            "simulated": any(s.simulated for s in signals[:keep])}))
        if telegram_length(text) <= MAX_LENGTH or keep == 1:
            return text, keep
        keep -= 1


def fit(text: str, limit: int = MAX_LENGTH) -> str:
    """Cut a rendered text at a line boundary to fit (the daily summary's safety net)."""
    if telegram_length(text) <= limit:
        return text
    lines = text.splitlines()
    while lines and telegram_length("\n".join(lines) + "\n…") > limit:
        lines.pop()
    return "\n".join(lines) + "\n…"
