"""The page's form: plain inputs turned into the strategy JSON, checked by backtest.strategy (the same
checks as the API), whose errors come back onto the form's fields."""
from __future__ import annotations

import re
from datetime import timedelta

from django import forms

from marketdata.models import Candle, Coin

from .strategy import SCANNER_CHOICES

# Defaults that finish in a few seconds on `make run`'s simulated data: five big coins, the last week.
DEFAULT_COINS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
DEFAULT_DAYS = 7
# strategy field (dotted, as StrategyError names it) -> form field
FIELD_OF = {"entry_rules.min_unified_score": "min_unified_score", "entry_rules.min_confirmations": "min_confirmations",
            "exit_rules.take_profit": "take_profit", "exit_rules.stop_loss": "stop_loss",
            "exit_rules.time_limit_hours": "time_limit_hours", "entry_rules": "min_unified_score",
            "exit_rules": "take_profit", "non_field_errors": None}


def _text(label: str, help_text: str = "", required: bool = True, **attrs) -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, required=required,
                           widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8, **attrs}))


class BacktestForm(forms.Form):
    name = forms.CharField(label="Name", required=False, max_length=100)
    coins = forms.CharField(label="Coins", help_text="Symbols separated by commas, e.g. BTCUSDT, ETHUSDT.",
                            widget=forms.TextInput(attrs={"size": 40}))
    start = forms.CharField(label="Start (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.CharField(label="End (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    scanners = forms.MultipleChoiceField(label="Scanners", choices=[(s, s) for s in SCANNER_CHOICES],
                                         widget=forms.CheckboxSelectMultiple)
    min_unified_score = _text("Minimum unified score", "0–100, from the chosen scanners only.")
    min_confirmations = _text("Minimum confirmations", "BUY votes, 0–4.", inputmode="numeric")
    take_profit = _text("Take profit (%)")
    stop_loss = _text("Stop loss (%)")
    time_limit_hours = _text("Time limit (hours)", "Empty: hold until take profit or stop loss.", required=False,
                             inputmode="numeric")
    position_size = _text("Position size")
    position_sizing = forms.ChoiceField(label="Position size in", choices=[
        ("usdt", "USDT per trade"), ("percent_of_equity", "% of equity")])
    initial_capital = _text("Initial capital (USDT)")
    fees = _text("Fee per side (%)")
    slippage = _text("Slippage per side (%)")
    signal_step_hours = _text("Signal every (hours)", "1 scores every hour; larger steps run faster.",
                              inputmode="numeric")

    def strategy(self) -> dict:
        d = self.cleaned_data
        blank = lambda v: v if v not in ("", None) else None  # noqa: E731 — missing, not zero
        return {
            "name": d.get("name", ""), "scanners": d.get("scanners") or [],
            "coins": [c for c in re.split(r"[\s,;]+", d.get("coins", "")) if c],
            "start": d.get("start"), "end": d.get("end"),
            "entry_rules": {"min_unified_score": blank(d.get("min_unified_score")),
                            "min_confirmations": blank(d.get("min_confirmations"))},
            "exit_rules": {"take_profit": blank(d.get("take_profit")), "stop_loss": blank(d.get("stop_loss")),
                           "time_limit_hours": blank(d.get("time_limit_hours"))},
            "position_size": blank(d.get("position_size")), "position_sizing": d.get("position_sizing"),
            "initial_capital": blank(d.get("initial_capital")), "fees": blank(d.get("fees")),
            "slippage": blank(d.get("slippage")), "signal_step_hours": blank(d.get("signal_step_hours")),
        }

    def add_strategy_errors(self, errors: dict[str, list[str]]) -> None:
        for field, messages in errors.items():
            target = FIELD_OF.get(field, field)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)


def default_initial() -> dict:
    """One click works: coins that have candles, the last week of them, an RSI dip strategy."""
    coins = list(Coin.objects.filter(symbol__in=DEFAULT_COINS).values_list("id", "symbol"))
    newest = None
    for coin_id, _ in coins:
        t = (Candle.objects.filter(coin_id=coin_id, interval="1h").order_by("-open_time")
             .values_list("open_time", flat=True).first())
        newest = max(newest, t) if newest and t else (t or newest)
    if newest is None:  # none of the usual coins: take the five symbols with the newest candles
        rows = (Candle.objects.filter(interval="1h").order_by("-open_time")
                .values_list("coin__symbol", "open_time")[:2000])
        picked: dict[str, object] = {}
        for symbol, t in rows:
            picked.setdefault(symbol, t)
            if len(picked) == 5:
                break
        coins, newest = [(None, s) for s in picked], max(picked.values(), default=None)
    initial = {"scanners": ["rsi"], "min_unified_score": "70", "min_confirmations": "0", "take_profit": "5",
               "stop_loss": "3", "time_limit_hours": "48", "position_size": "1000", "position_sizing": "usdt",
               "initial_capital": "10000", "fees": "0.1", "slippage": "0.05", "signal_step_hours": "1",
               "coins": ", ".join(sorted(s for _, s in coins))}
    if newest is not None:
        end = newest + timedelta(hours=1)  # just after the newest candle
        initial["end"] = end.strftime("%Y-%m-%dT%H:%M")
        initial["start"] = (end - timedelta(days=DEFAULT_DAYS)).strftime("%Y-%m-%dT%H:%M")
    return initial
