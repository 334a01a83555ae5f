"""How well the scanners find what the market simulator planted (`manage.py evaluate-scanners`).

The live scanners are replayed over stored history — `load_history` and `score_universe` at each
evaluation time, the code the scan runs — and their calls are compared with the simulator's
ground truth, the whale episodes it planted (`GET /sim/episodes`, docs/simulator.md). Ground
truth exists only for a simulated market. Nothing here feeds back into the scanners: the report
measures them, it does not tune them.

Definitions (docs/scoring.md, "Evaluating the scanners"):
- A *call* is a coin in state "accumulating" (or "distributing") at an evaluation time. A call at
  `as_of` is about the newest closed candle, the hour [as_of − 1h, as_of). Calls of one coin and
  kind at consecutive evaluation times merge into one *call event* covering [first − 1h, last).
- An event is a true positive when it overlaps a planted episode [start, end) of the same kind
  on the same coin. Precision = true-positive events ÷ events; recall = episodes overlapping the
  evaluated hours of evaluated coins that ≥ 1 event overlaps ÷ those episodes.
- MSS: the first evaluation time in the range at which a listing's MSS reached the threshold;
  a hit when a close within the next 7 days is > +5% over the close of the candle it was scored
  on (SCORING.md §8, LONG WIN); "pending" while those 7 days are not over.
Every rate comes with its n and a 95% Wilson interval; with n = 0 the rate is None, not 0.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import httpx

from .coindata import DAY_MS, HOUR_MS, CoinData, utc_ms
from .pipeline import Thresholds, score_universe

KINDS = ("accumulation", "distribution")
STATE_KIND = {"accumulating": "accumulation", "distributing": "distribution"}
MSS_HORIZON_MS = 7 * DAY_MS
MSS_WIN_PCT = 5.0  # SCORING.md §8: LONG WIN above +5%
Z95 = 1.959963984540054
SIM_HEADER = "x-cryptosatx-simulator"


class GroundTruthError(Exception):
    """The simulator's ground truth cannot be had, or does not belong to the stored data."""


# ---------------------------------------------------------------- statistics

def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion k/n (None for n = 0)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> dict[str, Any]:
    """{"k", "n", "rate", "ci95"}; rate and interval are None when n = 0."""
    ci = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None,
            "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None}


# ---------------------------------------------------------------- calls, events, episodes

@dataclass(frozen=True)
class Call:
    symbol: str
    kind: str  # "accumulation" | "distribution"
    at_ms: int  # evaluation time
    score: float


@dataclass
class CallEvent:
    symbol: str
    kind: str
    first_ms: int  # first and last evaluation time of the merged calls
    last_ms: int
    calls: int
    peak: float

    @property
    def start_ms(self) -> int:  # the data hours the calls were about: [first − 1h, last)
        return self.first_ms - HOUR_MS

    @property
    def end_ms(self) -> int:
        return self.last_ms


@dataclass(frozen=True)
class Episode:
    symbol: str
    kind: str
    start_ms: int
    end_ms: int  # exclusive
    follow_through: bool = False
    move_pct: float = 0.0

    @classmethod
    def from_json(cls, row: dict) -> "Episode":
        return cls(str(row["symbol"]), str(row["kind"]), int(row["start"]), int(row["end"]),
                   bool(row.get("follow_through", False)), float(row.get("move_pct", 0.0)))


def merge_calls(calls: Iterable[Call], step_ms: int) -> list[CallEvent]:
    """Calls of one coin and kind at consecutive evaluation times (`step_ms` apart) → one event."""
    events: list[CallEvent] = []
    open_events: dict[tuple[str, str], CallEvent] = {}
    for c in sorted(calls, key=lambda c: (c.symbol, c.kind, c.at_ms)):
        ev = open_events.get((c.symbol, c.kind))
        if ev is not None and c.at_ms - ev.last_ms == step_ms:
            ev.last_ms, ev.calls, ev.peak = c.at_ms, ev.calls + 1, max(ev.peak, c.score)
            continue
        ev = open_events[(c.symbol, c.kind)] = CallEvent(c.symbol, c.kind, c.at_ms, c.at_ms, 1, c.score)
        events.append(ev)
    return events


def overlaps(event: CallEvent, episode: Episode) -> bool:
    """Same coin, same kind, and the event's hours [start, end) meet the episode's [start, end)."""
    return (event.symbol == episode.symbol and event.kind == episode.kind
            and event.start_ms < episode.end_ms and episode.start_ms < event.end_ms)


def mss_outcome(candles: list[tuple[int, float, float, float]], entry_ms: int, now_ms: int,
                horizon_ms: int = MSS_HORIZON_MS, win_pct: float = MSS_WIN_PCT) -> dict[str, Any]:
    """Outcome of a listing scored at `entry_ms` on the candle that closed then: "hit" when a close
    within the next `horizon_ms` is more than `win_pct` above the entry close, "miss" when none is,
    "pending" while the horizon is not over, "no_data" when it is over but the candles stop short."""
    entry = next((c[1] for c in candles if c[0] + HOUR_MS == entry_ms), None)
    after = [(c[0] + HOUR_MS, c[1]) for c in candles if entry_ms < c[0] + HOUR_MS <= entry_ms + horizon_ms]
    best = max((close for _, close in after), default=None)
    max_pct = None if entry is None or best is None or entry <= 0 else round(100 * (best / entry - 1), 3)
    if now_ms < entry_ms + horizon_ms:
        outcome = "pending"
    elif entry is None or not after or after[-1][0] < entry_ms + horizon_ms:
        outcome = "no_data"
    else:
        outcome = "hit" if max_pct is not None and max_pct > win_pct else "miss"
    return {"outcome": outcome, "entry_close": entry, "max_close_pct": max_pct}


# ---------------------------------------------------------------- the replay

@dataclass
class Replay:
    times: list[int]  # evaluation times (ms)
    step_ms: int
    calls: list[Call] = field(default_factory=list)
    live: dict[str, set[int]] = field(default_factory=dict)  # coin -> times its newest candle had just closed
    mss_first: dict[str, dict[str, Any]] = field(default_factory=dict)  # coin -> first time MSS ≥ threshold
    mss_scored: set[str] = field(default_factory=set)  # listings MSS scored at least once
    mss_best: dict[str, float] = field(default_factory=dict)
    missing: Counter = field(default_factory=Counter)  # smart-money input -> coin-hours it was missing
    scores: dict[str, dict[int, tuple[int | None, int | None]]] = field(default_factory=dict)  # (acc, dist)
    coin_hours: int = 0


def replay(history: dict[str, CoinData], times: list[datetime], t: Thresholds,
           progress: Callable[[int, int], None] | None = None) -> Replay:
    """Score every coin at every time with the live pipeline; keep the calls and MSS crossings.
    A coin counts at a time only when its newest candle closed then (listed, not halted)."""
    step_ms = utc_ms(times[1]) - utc_ms(times[0]) if len(times) > 1 else HOUR_MS
    rp = Replay([utc_ms(x) for x in times], step_ms)
    for i, as_of in enumerate(times):
        at = utc_ms(as_of)
        snaps, outputs = score_universe(history, as_of, t, ("smart_money", "mss"))
        for symbol, per in outputs.items():
            snap = snaps[symbol]
            if snap.candle_close_time is None or utc_ms(snap.candle_close_time) != at:
                continue
            rp.live.setdefault(symbol, set()).add(at)
            rp.coin_hours += 1
            sm = per.get("smart_money")
            if sm is not None:
                rp.missing.update(sm.missing)
                rp.scores.setdefault(symbol, {})[at] = (sm.scores["accumulation"], sm.scores["distribution"])
                kind = STATE_KIND.get(sm.signal)
                if kind:
                    rp.calls.append(Call(symbol, kind, at, float(sm.scores[kind])))
            m = per.get("mss")
            if m is not None and m.score is not None:
                rp.mss_scored.add(symbol)
                rp.mss_best[symbol] = max(rp.mss_best.get(symbol, 0.0), m.score)
                if m.score >= t.mss and symbol not in rp.mss_first:
                    rp.mss_first[symbol] = {"at_ms": at, "mss": m.score, "coverage": m.scores.get("coverage"),
                                            "phases": m.detail.get("phases_scored")}
        if progress:
            progress(i + 1, len(times))
    return rp


# ---------------------------------------------------------------- the report

def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def _kind_report(kind: str, events: list[CallEvent], episodes: list[Episode], rp: Replay,
                 futures_coins: set[str]) -> dict[str, Any]:
    events = [e for e in events if e.kind == kind]
    episodes = [e for e in episodes if e.kind == kind]
    by_coin: dict[str, list[Episode]] = {}
    for ep in episodes:
        by_coin.setdefault(ep.symbol, []).append(ep)
    tp = [e for e in events if any(overlaps(e, ep) for ep in by_coin.get(e.symbol, ()))]
    hit = [ep for ep in episodes if any(overlaps(e, ep) for e in events if e.symbol == ep.symbol)]
    window = (rp.times[0] - HOUR_MS, rp.times[-1]) if rp.times else (0, 0)
    complete = [ep for ep in episodes if window[0] <= ep.start_ms and ep.end_ms <= window[1]]
    complete_hit = [ep for ep in complete if ep in hit]

    # Coin-hour view: how often an episode of this kind is active in a random evaluated coin-hour
    # (the base rate), and how often it is active in a called one (the lift over chance).
    def active(symbol: str, at: int) -> bool:
        return any(ep.start_ms <= at - HOUR_MS < ep.end_ms for ep in by_coin.get(symbol, ()))
    active_hours = sum(active(s, at) for s, ats in rp.live.items() for at in ats)
    called = [c for c in rp.calls if c.kind == kind]
    called_active = sum(active(c.symbol, c.at_ms) for c in called)
    base = rate(active_hours, rp.coin_hours)
    hourly = rate(called_active, len(called))
    lift = hourly["rate"] / base["rate"] if hourly["rate"] is not None and base["rate"] else None
    tp_ids = {id(e) for e in tp}
    return {
        "events": len(events), "true_positive_events": len(tp), "precision": rate(len(tp), len(events)),
        "episodes": len(episodes), "episodes_hit": len(hit), "recall": rate(len(hit), len(episodes)),
        "recall_complete_episodes": rate(len(complete_hit), len(complete)),
        # Without futures metrics (spot-only coins) funding is missing, and with social missing too
        # neither score can reach 7: the split shows how much of the recall that explains.
        "recall_by_market": {
            "with_futures_metrics": rate(sum(ep.symbol in futures_coins for ep in hit),
                                         sum(ep.symbol in futures_coins for ep in episodes)),
            "without": rate(sum(ep.symbol not in futures_coins for ep in hit),
                            sum(ep.symbol not in futures_coins for ep in episodes))},
        "called_coin_hours": len(called), "base_rate": base, "precision_coin_hours": hourly,
        "lift": None if lift is None else round(lift, 2),
        "false_positive_events": [_event_json(e) for e in events if id(e) not in tp_ids][:25],
        "missed_episodes": [_episode_json(ep, rp) for ep in episodes if ep not in hit][:25],
        "hit_episodes": [_episode_json(ep, rp) for ep in hit][:25],
    }


def _event_json(e: CallEvent) -> dict[str, Any]:
    return {"symbol": e.symbol, "first": _iso(e.first_ms), "last": _iso(e.last_ms), "calls": e.calls, "peak": e.peak}


def _episode_json(ep: Episode, rp: Replay) -> dict[str, Any]:
    """An episode with the highest score of its kind the scanner gave while it ran (a diagnostic)."""
    i = KINDS.index(ep.kind)
    during = [v[i] for at, v in rp.scores.get(ep.symbol, {}).items()
              if ep.start_ms <= at - HOUR_MS < ep.end_ms and v[i] is not None]
    return {"symbol": ep.symbol, "start": _iso(ep.start_ms), "end": _iso(ep.end_ms),
            "hours": (ep.end_ms - ep.start_ms) // HOUR_MS, "peak_score": max(during, default=None),
            "follow_through": ep.follow_through}


def _mss_report(rp: Replay, history: dict[str, CoinData], threshold: float, now_ms: int) -> dict[str, Any]:
    listings, counts = [], Counter()
    for symbol, first in sorted(rp.mss_first.items(), key=lambda kv: kv[1]["at_ms"]):
        out = mss_outcome(history[symbol].candles, first["at_ms"], now_ms)
        counts[out["outcome"]] += 1
        listings.append({"symbol": symbol, "at": _iso(first["at_ms"]), "mss": first["mss"],
                         "coverage": first["coverage"], "phases": first["phases"], **out})
    decided = counts["hit"] + counts["miss"]
    best = sorted(rp.mss_best.values(), reverse=True)
    return {"threshold": threshold, "listings_scored": len(rp.mss_scored), "reached": len(rp.mss_first),
            "hit_rate": rate(counts["hit"], decided), "pending": counts["pending"], "no_data": counts["no_data"],
            "best_scores": best[:10], "listings": listings[:50]}


def evaluate(history: dict[str, CoinData], rp: Replay, episodes: list[Episode], t: Thresholds,
             now_ms: int) -> dict[str, Any]:
    """The report: precision and recall per kind, base rates, and the MSS hit rate."""
    evaluated = set(rp.live)
    window = (rp.times[0] - HOUR_MS, rp.times[-1]) if rp.times else (0, 0)
    in_scope = [ep for ep in episodes if ep.symbol in evaluated and ep.kind in KINDS
                and ep.start_ms < window[1] and window[0] < ep.end_ms]
    events = merge_calls(rp.calls, rp.step_ms)
    with_futures = {s for s in evaluated if history[s].metrics.get("funding_pct")
                    or history[s].metrics.get("open_interest")}
    return {
        "range": {"start": _iso(window[0]), "end": _iso(window[1]), "evaluations": len(rp.times),
                  "step_hours": rp.step_ms / HOUR_MS},
        "coins": {"evaluated": len(evaluated), "with_futures_metrics": len(with_futures), "coin_hours": rp.coin_hours},
        "thresholds": {"accumulation": t.accumulation, "distribution": t.distribution, "mss": t.mss},
        "missing_inputs_share": {name: round(n / rp.coin_hours, 4) for name, n in sorted(rp.missing.items())}
        if rp.coin_hours else {},
        "episodes_in_scope": len(in_scope),
        **{kind: _kind_report(kind, events, in_scope, rp, with_futures) for kind in KINDS},
        "mss": _mss_report(rp, history, t.mss, now_ms),
    }


# ---------------------------------------------------------------- the ground truth

def _get(client: httpx.Client, path: str, params: dict | None = None) -> httpx.Response:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise GroundTruthError(f"the simulator at {client.base_url} does not answer ({exc.__class__.__name__}: "
                               f"{exc}). Ground truth exists only for simulated markets: start it with "
                               "`manage.py marketsim` and set SIMULATOR_URL.") from exc
    if response.status_code != 200 or SIM_HEADER not in response.headers:
        raise GroundTruthError(f"{client.base_url}{path} is not the CryptoSatX simulator (HTTP "
                               f"{response.status_code}, no {SIM_HEADER} header). Ground truth exists only for "
                               "simulated markets.")
    return response


def fetch_ground_truth(base_url: str, start_ms: int, end_ms: int, timeout: float = 30) -> dict[str, Any]:
    """Planted episodes overlapping [start_ms, end_ms] and what the simulator says of itself."""
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as client:
        health = _get(client, "/sim/health").json()
        rows = _get(client, "/sim/episodes", {"start": start_ms, "end": end_ms}).json()
        config = _get(client, "/sim/state").json().get("config", {})
    if not isinstance(rows, list):
        raise GroundTruthError("/sim/episodes did not answer a list")
    planted = {k: config[k] for k in ("follow_through_prob",) if k in config}
    return {"episodes": [Episode.from_json(r) for r in rows],
            "simulator": {"url": base_url, "seed": health.get("seed"), "coins": health.get("coins"),
                          "planted_params": planted,
                          "params_note": "/sim/state exposes follow_through_prob only; the other episode "
                                         "parameters are the documented defaults (docs/simulator.md) unless "
                                         "the simulator was started with others."}}


def check_candles_match(base_url: str, history: dict[str, CoinData], samples: int = 3,
                        timeout: float = 30) -> int:
    """Compare a few stored candles with the simulator's, so a database filled from another seed
    or another market is refused rather than scored against the wrong truth. Returns the number
    compared."""
    picks = [cd for cd in history.values() if cd.candles][:samples]
    compared = 0
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as client:
        for cd in picks:
            open_ms, close = cd.candles[-1][0], cd.candles[-1][1]
            response = client.get("/api/v3/klines", params={"symbol": cd.symbol, "interval": "1h",
                                                            "startTime": open_ms, "limit": 1})
            if response.status_code != 200:
                continue  # a delisted symbol, a rate limit: not evidence either way
            rows = response.json()
            if not rows or int(rows[0][0]) != open_ms:
                continue
            if not math.isclose(float(rows[0][4]), close, rel_tol=1e-9):
                raise GroundTruthError(
                    f"stored candle {cd.symbol} {_iso(open_ms)} closes at {close}, the simulator at {base_url} "
                    f"says {rows[0][4]}: the stored history comes from another market or seed, so the "
                    "simulator's episodes are not its ground truth.")
            compared += 1
    return compared
