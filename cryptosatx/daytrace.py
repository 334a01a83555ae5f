"""The trace of a daily summary: every number in the text Telegram received, next to the SQL that
recounts it from the rows, and whether the two agree.

The recount is written from the definitions in docs/alerts.md ("The daily summary"), in plain SQL
over the tables, without signals/summary.py or the ORM queries it uses: an error in either shows up
as a disagreement. A number shown with d decimals agrees when it is the recount rounded to d
decimals (half a unit of the last digit either way). Where the summary may pick either of two
equal rows (a coin's best score reached twice), any of them agrees.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketdata.models import Coin
from performance.models import SignalOutcome
from scanners.models import ScanResult, ScanRun
from signals.messages import SCANNER_NAMES  # the labels only: which scanner a line names
from signals.models import AlertDelivery, ScoringConfig, Signal

TOP, GEMS, WATCHLIST = 3, 5, 10  # as many as the summary lists (PLAN.md §1.3)
T = {"run": ScanRun._meta.db_table, "result": ScanResult._meta.db_table, "coin": Coin._meta.db_table,
     "signal": Signal._meta.db_table, "delivery": AlertDelivery._meta.db_table,
     "outcome": SignalOutcome._meta.db_table, "config": ScoringConfig._meta.db_table}

SQL = {
    "runs": "SELECT id, status, simulated FROM {run} WHERE started_at >= %s AND started_at < %s ORDER BY id",
    "coins": ("SELECT DISTINCT c.id, c.symbol FROM {result} r JOIN {run} s ON s.id = r.run_id "
              "JOIN {coin} c ON c.id = r.coin_id WHERE s.started_at >= %s AND s.started_at < %s ORDER BY c.symbol"),
    "signals": "SELECT id, tier FROM {signal} WHERE created_at >= %s AND created_at < %s ORDER BY id",
    "results": ("SELECT r.id, c.symbol, r.signal, r.scores, r.inputs FROM {result} r JOIN {run} s ON s.id = r.run_id "
                "JOIN {coin} c ON c.id = r.coin_id WHERE s.started_at >= %s AND s.started_at < %s "
                "AND r.scanner = %s ORDER BY r.id"),
    "floor": "SELECT mss_threshold FROM {config} ORDER BY id LIMIT 1",
    # One row per (coin, scanner): its summary-only tier-3 signal of the day with the highest unified score
    # (none ranks below any), the highest id on a tie; n = how many signals of the pair it stands for.
    "watchlist": ("SELECT id, symbol, direction, score, unified_score, scanner, n FROM ("
                  "SELECT g.id, c.symbol, g.direction, g.score, g.unified_score, g.scanner, "
                  "ROW_NUMBER() OVER (PARTITION BY g.coin_id, g.scanner ORDER BY "
                  "CASE WHEN g.unified_score IS NULL THEN 1 ELSE 0 END, g.unified_score DESC, g.id DESC) AS pick, "
                  "COUNT(*) OVER (PARTITION BY g.coin_id, g.scanner) AS n "
                  "FROM {signal} g JOIN {coin} c ON c.id = g.coin_id "
                  "WHERE g.created_at >= %s AND g.created_at < %s AND g.tier = 3 AND EXISTS ("
                  "SELECT 1 FROM {delivery} d WHERE d.signal_id = g.id AND d.status = 'summary_only')"
                  ") w WHERE pick = 1"),
    "outcomes": ("SELECT o.id, o.status, o.outcome, o.pnl_pct, o.evaluated_at, g.tier, g.direction, c.symbol "
                 "FROM {outcome} o JOIN {signal} g ON g.id = o.signal_id JOIN {coin} c ON c.id = g.coin_id "
                 "WHERE o.horizon = '24h' AND g.candle_close_time >= %s AND g.candle_close_time < %s"),
}
SQL = {k: v.format(**T) for k, v in SQL.items()}


@dataclass
class Check:
    item: str
    shown: str
    recount: str
    ok: bool
    query: str  # a key of SQL
    rows: str = ""  # which rows


@dataclass
class Trace:
    day: str
    window: list[str]
    as_of: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "queries": SQL}


# ---------------------------------------------------------------------------------------- reading rows

def _rows(key: str, *params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(SQL[key], [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
                                  for p in params])
        return cursor.fetchall()


def _json(value) -> dict:
    return json.loads(value) if isinstance(value, str) else (value or {})


def _when(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)
    parsed = parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt_timezone.utc)


def _num(inputs: dict, name: str) -> float | None:
    value = (inputs.get(name) or {}).get("value") if isinstance(inputs.get(name), dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ids(values) -> str:
    """#3-#7, #12 …: row ids as ranges."""
    values, out = sorted(values), []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    text = ", ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in out[:12])
    return text + (f" … ({len(values)} rows)" if len(out) > 12 else "") if values else "(none)"


# ---------------------------------------------------------------------------------------- the message

def _section(lines: list[str], title: str) -> list[str]:
    """The lines under a section title, up to the next blank line."""
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    if start is None:
        return []
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line)
    return [] if out == ["none"] else out


def _agrees(shown: str | None, value: float | None, digits: int) -> bool:
    if shown is None or value is None:
        return shown is None and value is None
    return abs(float(shown) - value) <= 0.5 * 10 ** -digits + 1e-9


# ---------------------------------------------------------------------------------------- the checks

def _count(trace: Trace, item: str, shown: str | None, rows: list, query: str, listed: str = "") -> None:
    trace.checks.append(Check(item, shown if shown is not None else "(missing)", str(len(rows)),
                              shown is not None and int(shown) == len(rows), query, listed))


def _best_rows(results: list[tuple], key: str) -> dict[str, list[tuple[float, int, dict]]]:
    """Per coin, every result row reaching the coin's best `key` score: [(score, id, inputs)]."""
    best: dict[str, list] = defaultdict(list)
    for rid, symbol, _, scores, inputs in results:
        value = _json(scores).get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if not best[symbol] or value > best[symbol][0][0]:
            best[symbol] = [(value, rid, _json(inputs))]
        elif value == best[symbol][0][0]:
            best[symbol].append((value, rid, _json(inputs)))
    return best


def _top_notes(inputs: dict, key: str) -> dict[str, tuple[float, int]]:
    buy = _num(inputs, "buy_pressure_pct")
    notes = {}
    if buy is not None:
        notes["buy pressure" if key == "accumulation" else "sell pressure"] = (
            buy if key == "accumulation" else 100 - buy, 0)
    if _num(inputs, "funding_pct") is not None:
        notes["funding"] = (_num(inputs, "funding_pct"), 3)
    if _num(inputs, "pct_24h") is not None:
        notes["24h"] = (_num(inputs, "pct_24h"), 1)
    return notes


def _gem_notes(inputs: dict) -> dict[str, tuple[float, int]]:
    notes = {}
    if _num(inputs, "fdv") is not None:
        notes["FDV"] = (_num(inputs, "fdv"), 0)
    if _num(inputs, "age_hours") is not None:
        notes["old"] = (_num(inputs, "age_hours"), 0)
    return notes


UNITS = {"B": 1e9, "M": 1e6, "K": 1e3, "": 1}


def _parse_notes(text: str) -> dict[str, tuple[str, float]]:
    """'buy pressure 74%, funding -0.021%, 24h +1.3%' → {name: (shown, unit size)}."""
    notes = {}
    for part in filter(None, (text or "").split(", ")):
        if m := re.fullmatch(r"(buy pressure|sell pressure|funding|24h) ([+-]?[\d.]+)%", part):
            notes[m[1]] = (m[2], 1)
        elif m := re.fullmatch(r"\$(-?[\d.]+)([BMK]?) FDV", part):
            notes["FDV"] = (m[1], UNITS[m[2]])
        elif m := re.fullmatch(r"([\d.]+)h old", part):
            notes["old"] = (m[1], 1)
        else:
            notes[part] = ("?", 1)
    return notes


def _notes_agree(shown: dict[str, tuple[str, float]], wanted: dict[str, tuple[float, int]]) -> bool:
    if set(shown) != set(wanted):
        return False
    for name, (text, unit) in shown.items():
        value, digits = wanted[name]
        shown_digits = len(text.split(".")[1]) if "." in text else 0
        if not _agrees(text, value / unit, max(digits, shown_digits) if unit == 1 else shown_digits):
            return False
    return True


def _ranked(trace: Trace, title: str, lines: list[str], best: dict, limit: int, pattern: str, notes_of,
            query: str, floor: float | None = None) -> None:
    ranking = sorted(((rows[0][0], symbol) for symbol, rows in best.items() if floor is None or rows[0][0] >= floor),
                     key=lambda r: (-r[0], r[1]))
    _count(trace, f"{title}: coins listed", str(len(lines)), ranking[:limit], query,
           f"{len(ranking)} coins qualify, the top {limit} are listed")
    for i, line in enumerate(lines[:limit]):
        m = re.fullmatch(pattern, line)
        if not m or i >= len(ranking):
            trace.checks.append(Check(f"{title} {i + 1}", line, "(nothing)", False, query))
            continue
        score, symbol = ranking[i]
        rows = best[symbol]
        ok = m["symbol"] == symbol and _agrees(m["score"], score, 1)
        trace.checks.append(Check(f"{title} {i + 1}: {symbol} score", f"{m['symbol']} {m['score']}",
                                  f"{symbol} {score:g}", ok, query,
                                  f"best of the coin: result {ids(r[1] for r in rows)}"))
        shown = _parse_notes(m["notes"])
        agreeing = [r for r in rows if _notes_agree(shown, notes_of(r[2]))]
        wanted = notes_of((agreeing or rows)[0][2])
        trace.checks.append(Check(
            f"{title} {i + 1}: {symbol} details", m["notes"] or "(none)",
            ", ".join(f"{k} {v:.{d}f}" for k, (v, d) in wanted.items()) or "(none)", bool(agreeing), query,
            f"inputs of result {ids(r[1] for r in (agreeing or rows))}"))


def _performance(trace: Trace, lines: list[str], outcomes: list[tuple], as_of: datetime) -> None:
    done, pending = [], []
    for oid, status, outcome, pnl, evaluated_at, tier, direction, symbol in outcomes:
        settled = status != SignalOutcome.PENDING and _when(evaluated_at) <= as_of
        if settled and status == SignalOutcome.EVALUATED:
            done.append((oid, outcome, pnl if direction == "LONG" else -pnl, tier, symbol))
        elif not settled:
            pending.append(oid)  # pending when the text was written
    text = "\n".join(lines)
    m = re.search(r"(\d+) still waiting|\((\d+) signals? waiting", text)
    _count(trace, "Performance: waiting for 24h", (m[1] or m[2]) if m else "0", pending, "outcomes",
           f"outcome {ids(pending)} not settled at the summary's time")
    shown_tiers = {int(t[0]): t for t in re.findall(r"TIER (\d) signals: (\d+) wins?, (\d+) loss(?:es)? of (\d+) "
                                                    r"\(([\d.]+)% win rate\)", text)}
    for tier in sorted({d[3] for d in done} | set(shown_tiers)):
        mine = [d for d in done if d[3] == tier]
        wins, losses = sum(d[1] == "WIN" for d in mine), sum(d[1] == "LOSS" for d in mine)
        _, w, lo, n, rate = shown_tiers.get(tier, (None,) * 5)
        ok = (tier in shown_tiers and (int(w), int(lo), int(n)) == (wins, losses, len(mine))
              and _agrees(rate, 100 * wins / len(mine), 1))
        trace.checks.append(Check(f"Performance: TIER {tier}", f"{w} wins, {lo} losses of {n}, {rate}%",
                                  f"{wins} wins, {losses} losses of {len(mine)}, "
                                  f"{100 * wins / len(mine) if mine else 0:.1f}%", ok, "outcomes",
                                  f"outcome {ids(d[0] for d in mine)}"))
    gains = [d[2] for d in done if d[1] == "WIN"]
    m = re.search(r"Average gain of the wins: (-?[\d.]+)%", text)
    mean = sum(gains) / len(gains) if gains else None
    trace.checks.append(Check("Performance: average gain of the wins", m[1] if m else "(not shown)",
                              f"{mean:.2f}" if gains else "(no wins)", _agrees(m[1] if m else None, mean, 2),
                              "outcomes", f"outcome {ids(d[0] for d in done if d[1] == 'WIN')}"))
    m = re.search(r"Best performer: (-?[\d.]+)% \((\S+)\)", text)
    top = max((d[2] for d in done), default=None)
    best = [d for d in done if d[2] == top]
    trace.checks.append(Check("Performance: best performer", f"{m[1]} {m[2]}" if m else "(not shown)",
                              f"{top:.2f} {'/'.join(sorted({d[4] for d in best}))}" if best else "(none evaluated)",
                              (m is None and not best) or bool(m and best and _agrees(m[1], top, 2)
                                                               and m[2] in {d[4] for d in best}),
                              "outcomes", f"outcome {ids(d[0] for d in best)}"))


def _watchlist(trace: Trace, lines: list[str], start: datetime, end: datetime) -> None:
    rows = _rows("watchlist", start, end)  # (id, symbol, direction, score, unified, scanner, n): one per pair
    ranked = sorted(rows, key=lambda r: (r[4] is None, -(r[4] or 0), r[1], r[5]))  # in Python: no collation
    shown = [ln for ln in lines if ln.startswith("• ")]
    more = next((int(m[1]) for ln in lines if (m := re.fullmatch(r"… and (\d+) more", ln))), 0)
    _count(trace, "Watchlist: coin and scanner pairs", str(len(shown) + more), rows, "watchlist",
           f"signal {ids(r[0] for r in rows)}, the strongest of {sum(r[6] for r in rows)} signals")
    line_re = r"• (\S+) - (.*) \((LONG|SHORT)\) · unified (n/a|-?[\d.]+)(?:/100)?(?: · \D*?(-?[\d.]+).*)?"
    for i, line in enumerate(shown):
        m = re.fullmatch(line_re, line)
        want = ranked[i] if i < len(ranked) else None
        if want is None:
            expected = "(nothing)"
        else:
            own = "" if want[5] == "unified" else f" · {'n/a' if want[3] is None else f'{want[3]:g}'}"
            expected = f"{want[1]} {want[5]} {want[2]} unified {'n/a' if want[4] is None else f'{want[4]:g}'}{own}"
        ok = bool(m and want and m[1] == want[1] and m[3] == want[2]
                  and m[2].startswith(SCANNER_NAMES.get(want[5], want[5]))  # the line names the pair's scanner
                  and (m[4] == "n/a" if want[4] is None else m[4] != "n/a" and _agrees(m[4], want[4], 1))
                  and (m[5] is None if want[5] == "unified"  # a unified signal's own score is its unified score
                       else m[5] is not None and want[3] is not None and _agrees(m[5], want[3], _shown_digits(m[5]))))
        trace.checks.append(Check(f"Watchlist {i + 1}", line.removeprefix("• ") if m is None else
                                  f"{m[1]} {m[2].split(' · ')[0]} {m[3]} unified {m[4]}" + (f" · {m[5]}" if m[5] else ""),
                                  expected, ok, "watchlist",
                                  f"signal #{want[0]}, the strongest of {want[6]}" if want else ""))


def _shown_digits(shown: str) -> int:
    """Scores are shown with one decimal (two for an unknown metric); "6" is 6.0 rounded to one."""
    return 2 if "." in shown and len(shown.split(".")[1]) > 1 else 1


def trace_summary(day: date, text: str, as_of: datetime) -> Trace:
    """Check every number of `text` (the summary of `day` as Telegram shows it, without markup) against
    the rows; `as_of`: when the text was written (outcomes settled later were pending then)."""
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))
    trace = Trace(day.isoformat(), [start.isoformat(), end.isoformat()], as_of.isoformat())
    lines = [ln.strip() for ln in text.splitlines()]
    header = re.search(r"DAILY SCAN SUMMARY - (.+)", text)
    wanted_day = f"{day:%b} {day.day}, {day.year}"
    trace.checks.append(Check("Day", header[1] if header else "(missing)", wanted_day,
                              bool(header and header[1] == wanted_day), "runs"))
    runs = _rows("runs", start, end)
    simulated = any(r[2] for r in runs)
    trace.checks.append(Check("Simulated-market line", str("Simulated market" in text), str(simulated),
                              ("Simulated market" in text) == simulated, "runs", "any run with simulated = true"))
    m = re.search(r"Coins Scanned: (\d+)", text)
    coins = _rows("coins", start, end)
    _count(trace, "Coins Scanned", m and m[1], coins, "coins",
           ", ".join(c[1] for c in coins[:6]) + (f" … {len(coins) - 6} more" if len(coins) > 6 else ""))
    m = re.search(r"Total Scans: (\d+)(?: \(([^)]*)\))?", text)
    _count(trace, "Total Scans", m and m[1], runs, "runs", f"run {ids(r[0] for r in runs)}")
    statuses = Counter(r[1] for r in runs)
    for status in (ScanRun.FAILED, ScanRun.PARTIAL):
        n = re.search(rf"(\d+) {status}", (m and m[2]) or "")
        _count(trace, f"Total Scans: {status}", n[1] if n else "0", [r for r in runs if r[1] == status], "runs",
               f"run {ids(r[0] for r in runs if r[1] == status)}")
    signals = _rows("signals", start, end)
    for tier in (1, 2, 3):
        n = re.search(rf"TIER {tier} SIGNALS \([^)]*\): (\d+)", text)
        mine = [s[0] for s in signals if s[1] == tier]
        _count(trace, f"TIER {tier} signals", n and n[1], mine, "signals", f"signal {ids(mine)}")
    smart = _rows("results", start, end, "smart_money")
    top = r"\d+\. (?P<symbol>\S+) - Score (?P<score>-?[\d.]+)(?: \((?P<notes>.*)\))?"
    for title, state, key in (("Top Accumulation", "accumulating", "accumulation"),
                              ("Top Distribution", "distributing", "distribution")):
        _ranked(trace, title, _section(lines, f"🟢 {title}:" if key == "accumulation" else f"🔴 {title}:"),
                _best_rows([r for r in smart if r[2] == state], key), TOP, top,
                lambda inputs, key=key: _top_notes(inputs, key), "results")
    floor = next((row[0] for row in _rows("floor")), None)
    gems_title = next((ln for ln in lines if ln.startswith("💎 New Gems")), "")
    m = re.search(r"MSS ≥\s*([\d.]+)", gems_title)
    trace.checks.append(Check("New Gems: MSS floor", m[1] if m else "(missing)",
                              f"{floor:g}" if floor is not None else "(no scoring config row)",
                              bool(m and floor is not None and _agrees(m[1], floor, 2)), "floor"))
    _ranked(trace, "New Gems", _section(lines, "💎 New Gems"), _best_rows(_rows("results", start, end, "mss"), "mss"),
            GEMS, r"\d+\. (?P<symbol>\S+) - MSS (?P<score>[\d.]+)(?: \((?P<notes>.*)\))?", _gem_notes, "results",
            floor=floor if floor is not None else float("inf"))
    _watchlist(trace, _section(lines, "📋 Watchlist"), start, end)
    _performance(trace, _section(lines, "📈 Yesterday's Performance"), _rows("outcomes", start, end), as_of)
    return trace


def render(trace: Trace) -> str:
    width = max(len(c.item) for c in trace.checks)
    out = [f"Trace of the summary of {trace.day}: window [{trace.window[0]}, {trace.window[1]}), "
           f"text written {trace.as_of}"]
    for c in trace.checks:
        out.append(f"  {'ok ' if c.ok else 'BAD'} {c.item:<{width}}  shown {c.shown}  ·  rows {c.recount}  "
                   f"[{c.query}{': ' + c.rows if c.rows else ''}]")
    out.append("Queries (%s = the window's start and end; results also by scanner):")
    out += [f"  {key}: {sql}" for key, sql in SQL.items()]
    out.append(f"{sum(c.ok for c in trace.checks)} of {len(trace.checks)} numbers agree with the rows"
               + ("" if trace.ok else " — MISMATCH"))
    return "\n".join(out)
