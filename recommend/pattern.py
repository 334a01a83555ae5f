"""`your_success_pattern` (PLAN §5.2) from one user's own closed trades: measured, with its n.
A winning trade is one whose realized P&L, net of fees, is above 0."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from statistics import mean, quantiles

from portfolio.models import Trade

NEW_LISTING_AGE = timedelta(days=7)  # MSS's definition of a new listing (SCORING.md §3)
COIN_TYPES = {"new_listing": "new listings (under 7 days old when entered)", "perpetual": "coins with perpetual futures",
              "spot_only": "spot-only coins"}


def coin_type(coin, at) -> str:
    """new_listing when the coin was under 7 days old at `at`; else perpetual or spot_only."""
    if coin.listed_at is not None and at - coin.listed_at < NEW_LISTING_AGE:
        return "new_listing"
    return "perpetual" if coin.has_perpetual else "spot_only"


def _hold_text(hours: float) -> str:
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def success_pattern(user) -> dict:
    closed = list(Trade.objects.filter(owner=user, status=Trade.CLOSED).select_related("coin", "signal"))
    empty = {"n": 0, "wins": 0, "win_rate": None, "preferred_scanner": None, "optimal_score_range": None,
             "best_coin_type": None, "avg_hold_time": None, "avg_gain": None,
             "message": "No closed trades yet: close a trade (with its exit price) and your pattern is measured "
                        "from it."}
    if not closed:
        return empty
    returns = [t.realized_pnl / t.invested * 100 for t in closed]
    wins = [t for t, r in zip(closed, returns) if r > 0]
    holds = [(t.closed_at - t.opened_at).total_seconds() / 3600 for t in closed]
    out = {**empty, "n": len(closed), "wins": len(wins), "win_rate": round(len(wins) / len(closed), 4),
           "message": f"From your {len(closed)} closed trade{'s' if len(closed) != 1 else ''}, "
                      f"{len(wins)} of them winners (P&L after fees above 0)."}
    out["avg_hold_time"] = {"hours": round(mean(holds), 2), "text": _hold_text(mean(holds)), "n": len(closed)}
    out["avg_gain"] = {"pct": round(mean(returns), 4), "n": len(closed),
                       "text": f"{mean(returns):+.1f}% per closed trade, after fees"}
    if wins:
        scanner, count = Counter(t.signal.scanner if t.signal else "manual" for t in wins).most_common(1)[0]
        out["preferred_scanner"] = {"value": scanner, "wins": count, "share_of_wins": round(count / len(wins), 4),
                                    "text": f"{scanner}: {count} of your {len(wins)} wins"}
        scores = sorted(t.signal.unified_score for t in wins if t.signal and t.signal.unified_score is not None)
        if scores:
            low, high = (scores[0], scores[-1]) if len(scores) < 4 else (quantiles(scores, n=4)[0], quantiles(scores, n=4)[2])
            out["optimal_score_range"] = {
                "low": round(low, 1), "high": round(high, 1), "n": len(scores), "score": "unified_score",
                "text": f"{low:.0f}–{high:.0f} ({'middle half' if len(scores) >= 4 else 'range'} of the unified "
                        f"scores of {len(scores)} winning trades from signals)"}
    if wins:  # with no win there is no best type
        by_type: dict[str, list[bool]] = defaultdict(list)
        for t, r in zip(closed, returns):
            by_type[coin_type(t.coin, t.opened_at)].append(r > 0)
        best, results = max(by_type.items(), key=lambda kv: (sum(kv[1]) / len(kv[1]), len(kv[1])))
        out["best_coin_type"] = {"value": best, "win_rate": round(sum(results) / len(results), 4),
                                 "n": len(results), "text": f"{COIN_TYPES[best]}: {sum(results)} of {len(results)} won"}
    return out
