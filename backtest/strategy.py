"""A backtest strategy: the plan's JSON (§5.4) checked field by field into a `Strategy`.

    {"scanners": ["rsi"],
     "entry_rules": {"min_unified_score": 70, "min_confirmations": 1},
     "exit_rules": {"take_profit": 5, "stop_loss": 3, "time_limit_hours": 48},
     "position_size": 1000, "position_sizing": "usdt",
     "initial_capital": 10000, "fees": 0.1, "slippage": 0.05,
     "start": "2026-11-01T00:00:00Z", "end": "2026-11-15T00:00:00Z",
     "coins": ["BTCUSDT", "ETHUSDT"], "signal_step_hours": 1}

Percentages are percent (take_profit 5 = +5 %; fees 0.1 = 0.1 % per side). Every problem is reported
under the field's dotted name, as DRF renders a 400: {"exit_rules.take_profit": ["…"]}.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from django.utils.dateparse import parse_datetime, parse_date

from scanners.engine import SCAN_GROUPS
from scanners.pipeline import SCANNERS

from .kernel import EQUITY, FIXED, KernelParams

# A strategy names the scan command's groups (smart_money brings whale activity and volume spike, as
# `manage.py scan smart_money` does) or single scanners.
SCANNER_CHOICES = tuple(dict.fromkeys([*SCAN_GROUPS, *SCANNERS]))
SIZING_CHOICES = {"usdt": FIXED, "percent_of_equity": EQUITY}
MAX_COINS = 100
MAX_DAYS = 366
# Each evaluation runs the real scanners on one coin at one hour (a few ms): this keeps a run within
# the q cluster's task timeout. docs/users.md tells users how to stay under it.
MAX_EVALUATIONS = 60_000
MAX_CONFIRMATIONS = 4  # the scanners that vote BUY (SCORING.md §6)
KNOWN_FIELDS = {"name", "scanners", "entry_rules", "exit_rules", "position_size", "position_sizing",
                "initial_capital", "fees", "slippage", "start", "end", "coins", "signal_step_hours"}


class StrategyError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Strategy:
    scanners: tuple[str, ...]  # the requested names, as given
    min_unified_score: float
    min_confirmations: int
    take_profit: float  # percent
    stop_loss: float  # percent
    time_limit_hours: int | None
    position_size: float
    position_sizing: str  # "usdt" | "percent_of_equity"
    initial_capital: float
    fees: float  # percent per side
    slippage: float  # percent per side
    start: datetime
    end: datetime
    coins: tuple[str, ...]
    signal_step_hours: int = 1
    name: str = ""

    @property
    def scanner_functions(self) -> tuple[str, ...]:
        """The pipeline's scanners the named groups run."""
        out: list[str] = []
        for name in self.scanners:
            out += SCAN_GROUPS.get(name, (name,))
        return tuple(dict.fromkeys(out))

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds() // 3600)

    def kernel_params(self) -> KernelParams:
        size = self.position_size / 100 if self.position_sizing == "percent_of_equity" else self.position_size
        return KernelParams(take_profit=self.take_profit / 100, stop_loss=self.stop_loss / 100,
                            time_limit=self.time_limit_hours, fee=self.fees / 100, slippage=self.slippage / 100,
                            initial_cash=self.initial_capital, position_size=size,
                            sizing=SIZING_CHOICES[self.position_sizing])

    def to_json(self) -> dict:
        d = asdict(self)
        d["scanners"], d["coins"] = list(self.scanners), list(self.coins)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        d["entry_rules"] = {"min_unified_score": d.pop("min_unified_score"),
                            "min_confirmations": d.pop("min_confirmations")}
        d["exit_rules"] = {"take_profit": d.pop("take_profit"), "stop_loss": d.pop("stop_loss"),
                           "time_limit_hours": d.pop("time_limit_hours")}
        return d


def _number(errors, field, value, *, low=None, high=None, low_open=False, integer=False, default=None):
    if value is None:
        if default is not None:
            return default
        errors[field] = ["This field is required."]
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors[field] = ["Must be a number."]
        return None
    try:
        number = float(value)
    except ValueError:
        errors[field] = [f"Must be a number, not {str(value)[:40]!r}."]
        return None
    if not math.isfinite(number):
        errors[field] = ["Must be a finite number."]
        return None
    if integer and number != int(number):
        errors[field] = ["Must be a whole number."]
        return None
    if low is not None and (number <= low if low_open else number < low):
        errors[field] = [f"Must be {'greater than' if low_open else 'at least'} {low:g}."]
        return None
    if high is not None and number > high:
        errors[field] = [f"Must be at most {high:g}."]
        return None
    return int(number) if integer else number


def _when(errors, field, value):
    if not isinstance(value, str) or not value.strip():
        errors[field] = ["Required: an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T00:00:00Z."]
        return None
    try:
        dt = parse_datetime(value.strip())
        if dt is None:
            day = parse_date(value.strip())
            dt = datetime(day.year, day.month, day.day) if day else None
    except ValueError:
        dt = None
    if dt is None:
        errors[field] = [f"Not a date: {value[:40]!r}. Use ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z."]
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # dates without a zone are UTC, as every time in the app
    if dt.minute or dt.second or dt.microsecond:
        errors[field] = ["Must be on the hour: the backtest steps through hourly candles."]
        return None
    return dt.astimezone(timezone.utc)


def parse_strategy(data) -> Strategy:
    """The strategy, or StrategyError naming every bad field. Coins and candles are checked by
    `check_data` (it needs the database)."""
    if not isinstance(data, dict):
        raise StrategyError({"non_field_errors": ["The strategy must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(unknown)}."]
    name = data.get("name") or ""
    if not isinstance(name, str) or len(name) > 100:
        errors["name"] = ["Must be text of at most 100 characters."]
    scanners = data.get("scanners")
    if not isinstance(scanners, list) or not scanners or not all(isinstance(s, str) for s in scanners):
        errors["scanners"] = [f"Must be a non-empty list of scanner names: {', '.join(SCANNER_CHOICES)}."]
    elif bad := [s for s in scanners if s not in SCANNER_CHOICES]:
        errors["scanners"] = [f"Unknown scanner(s): {', '.join(bad)}. Choose from {', '.join(SCANNER_CHOICES)}."]
    entry = data.get("entry_rules") if data.get("entry_rules") is not None else {}
    exit_ = data.get("exit_rules")
    if not isinstance(entry, dict):
        errors["entry_rules"] = ["Must be an object: {min_unified_score, min_confirmations}."]
        entry = {}
    if not isinstance(exit_, dict):
        errors["exit_rules"] = ["Required: an object {take_profit, stop_loss, time_limit_hours}."]
        exit_ = {}
    min_score = _number(errors, "entry_rules.min_unified_score", entry.get("min_unified_score"), low=0, high=100)
    min_conf = _number(errors, "entry_rules.min_confirmations", entry.get("min_confirmations"), low=0,
                       high=MAX_CONFIRMATIONS, integer=True, default=0)
    tp = _number(errors, "exit_rules.take_profit", exit_.get("take_profit"), low=0, low_open=True, high=10_000)
    sl = _number(errors, "exit_rules.stop_loss", exit_.get("stop_loss"), low=0, low_open=True, high=99.99)
    limit = exit_.get("time_limit_hours")
    if limit is not None:
        limit = _number(errors, "exit_rules.time_limit_hours", limit, low=1, high=24 * MAX_DAYS, integer=True)
    sizing = data.get("position_sizing", "usdt")
    if sizing not in SIZING_CHOICES:
        errors["position_sizing"] = [f"Must be one of: {', '.join(SIZING_CHOICES)}."]
    size = _number(errors, "position_size", data.get("position_size"), low=0, low_open=True,
                   high=100 if sizing == "percent_of_equity" else 1e12)
    capital = _number(errors, "initial_capital", data.get("initial_capital"), low=0, low_open=True, high=1e12,
                      default=10_000.0)
    fees = _number(errors, "fees", data.get("fees"), low=0, high=10, default=0.0)
    slippage = _number(errors, "slippage", data.get("slippage"), low=0, high=10, default=0.0)
    step = _number(errors, "signal_step_hours", data.get("signal_step_hours"), low=1, high=24, integer=True,
                   default=1)
    start, end = _when(errors, "start", data.get("start")), _when(errors, "end", data.get("end"))
    if start and end:
        if start >= end:
            errors["end"] = ["Must be after start."]
        elif end - start > timedelta(days=MAX_DAYS):
            errors["end"] = [f"The range may span at most {MAX_DAYS} days."]
        elif end - start < timedelta(hours=2):
            errors["end"] = ["The range must span at least 2 hours (a signal and the bar to enter on)."]
    coins = data.get("coins")
    if not isinstance(coins, list) or not coins or not all(isinstance(c, str) and c.strip() for c in coins):
        errors["coins"] = ["Must be a non-empty list of symbols, e.g. [\"BTCUSDT\", \"ETHUSDT\"]."]
    elif len(coins) > MAX_COINS:
        errors["coins"] = [f"At most {MAX_COINS} coins per backtest."]
    else:
        coins = list(dict.fromkeys(c.strip().upper() for c in coins))
    if not errors and start and end and step:
        evaluations = len(coins) * ((end - start) // timedelta(hours=step))
        if evaluations > MAX_EVALUATIONS:
            errors["coins"] = [f"{len(coins)} coins × {(end - start) // timedelta(hours=step)} signal times = "
                               f"{evaluations:,} scanner evaluations; at most {MAX_EVALUATIONS:,}. Use fewer coins, "
                               f"a shorter range or a larger signal_step_hours."]
    if errors:
        raise StrategyError(errors)
    return Strategy(tuple(scanners), min_score, min_conf, tp, sl, limit, size, sizing, capital, fees, slippage,
                    start, end, tuple(coins), step, name.strip())


def check_data(strategy: Strategy) -> None:
    """StrategyError unless every coin is known and the range has candles to trade on."""
    from marketdata.models import Candle, Coin

    known = dict(Coin.objects.filter(symbol__in=strategy.coins).values_list("symbol", "id"))
    unknown = [s for s in strategy.coins if s not in known]
    if unknown:
        raise StrategyError({"coins": [f"Unknown coin(s): {', '.join(unknown[:20])}. Use symbols the app has "
                                       f"candles for, e.g. BTCUSDT."]})
    with_candles = set(Candle.objects.filter(coin_id__in=known.values(), interval="1h",
                                             open_time__gte=strategy.start, open_time__lt=strategy.end)
                       .values_list("coin_id", flat=True).distinct())
    if not with_candles:
        raise StrategyError({"start": [f"No stored hourly candles for these coins between "
                                       f"{strategy.start:%Y-%m-%d %H:%M} and {strategy.end:%Y-%m-%d %H:%M} UTC. "
                                       f"Run `manage.py backfill` or pick a range with data."]})
