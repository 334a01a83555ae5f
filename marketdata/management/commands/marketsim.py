"""`manage.py marketsim`: run the market simulator in the foreground until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import dataclasses
import signal
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.simulator.episodes import DEFAULT_PARAMS
from marketdata.simulator.server import SimulatorServer


def _default_port() -> int:
    """The port of settings.SIMULATOR_URL, so the app and the simulator agree by default."""
    url = getattr(settings, "SIMULATOR_URL", "") or "http://127.0.0.1:8765"
    return urlsplit(url).port or 8765


def _chat_ids(value: str) -> tuple[int | str, ...]:
    """`--telegram-blocked=123,-456,@name` -> (123, -456, "@name"). (Write the `=` when the
    list starts with a negative id, or argparse takes it for an option.)"""
    out: list[int | str] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        if part.startswith("@"):
            out.append(part)
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise argparse.ArgumentTypeError(f"not a chat id or @username: {part!r}") from None
    return tuple(out)


class Command(BaseCommand):
    help = ("Run the deterministic market simulator (Binance spot and futures, CoinGecko, "
            "LunarCrush wire formats) on loopback.")
    # The simulator does not touch the database; skip system checks so it starts in any state.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None,
                            help="TCP port (default: from SIMULATOR_URL; 0 picks a free one)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--coins", type=int, default=520, help="number of USDT pairs")
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--jitter-ms", type=float, default=0.0)
        parser.add_argument("--weight-limit", type=int, default=6000)
        parser.add_argument("--window-seconds", type=float, default=60.0)
        parser.add_argument("--ban-after", type=int, default=10,
                            help="requests tolerated after a 429 before the IP is banned (418)")
        limits = parser.add_argument_group("limits of the other services (per IP; every "
                                           "'minute' is --window-seconds long)")
        limits.add_argument("--futures-weight-limit", type=int, default=2400)
        limits.add_argument("--futures-data-per-5min", type=int, default=1000,
                            help="calls shared by the four /futures/data endpoints")
        limits.add_argument("--funding-rate-per-5min", type=int, default=500)
        limits.add_argument("--coingecko-per-minute", type=int, default=30)
        limits.add_argument("--html-429", action="store_true",
                            help="CoinGecko answers 429 with an HTML page instead of JSON")
        limits.add_argument("--lunarcrush-per-minute", type=int, default=10)
        limits.add_argument("--lunarcrush-per-day", type=int, default=2000)
        limits.add_argument("--require-keys", action="store_true",
                            help="LunarCrush refuses requests without a Bearer key (401)")
        faults = parser.add_argument_group("fault injection (own RNG: market data do not change)")
        faults.add_argument("--error-rate", type=float, default=0.0,
                            help="share of requests answered 500/502/503 (JSON or an HTML 502)")
        faults.add_argument("--timeout-rate", type=float, default=0.0,
                            help="share of requests held for --timeout-seconds before answering")
        faults.add_argument("--timeout-seconds", type=float, default=30.0)
        faults.add_argument("--malformed-rate", type=float, default=0.0,
                            help="share of requests answered 200 with a truncated or non-JSON body")
        telegram = parser.add_argument_group("Telegram (every chat exists unless listed here)")
        telegram.add_argument("--telegram-blocked", type=_chat_ids, default=(), metavar="ID,...",
                              help='chats that answer 403 "Forbidden: bot was blocked by the user"')
        telegram.add_argument("--telegram-unknown", type=_chat_ids, default=(), metavar="ID,...",
                              help='chats that answer 400 "Bad Request: chat not found"')
        parser.add_argument("--follow-through-prob", type=float,
                            default=DEFAULT_PARAMS.follow_through_prob,
                            help="chance that a planted episode is followed by its price move")
        parser.add_argument("--cache-mb", type=float, default=256,
                            help="memory for cached serialized kline rows")

    def handle(self, *args: Any, **opts: Any) -> None:
        port = opts["port"] if opts["port"] is not None else _default_port()
        try:
            sim = SimulatorServer(
                seed=opts["seed"], coins=opts["coins"], host=opts["host"], port=port,
                latency_ms=opts["latency_ms"], jitter_ms=opts["jitter_ms"],
                weight_limit=opts["weight_limit"], window_seconds=opts["window_seconds"],
                ban_after=opts["ban_after"],
                futures_weight_limit=opts["futures_weight_limit"],
                futures_data_per_5min=opts["futures_data_per_5min"],
                funding_rate_per_5min=opts["funding_rate_per_5min"],
                coingecko_per_minute=opts["coingecko_per_minute"], html_429=opts["html_429"],
                lunarcrush_per_minute=opts["lunarcrush_per_minute"],
                lunarcrush_per_day=opts["lunarcrush_per_day"], require_keys=opts["require_keys"],
                error_rate=opts["error_rate"], timeout_rate=opts["timeout_rate"],
                malformed_rate=opts["malformed_rate"], timeout_seconds=opts["timeout_seconds"],
                episodes=dataclasses.replace(DEFAULT_PARAMS,
                                             follow_through_prob=opts["follow_through_prob"]),
                cache_mb=opts["cache_mb"], telegram_blocked=opts["telegram_blocked"],
                telegram_unknown=opts["telegram_unknown"],
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {opts['host']}:{port}: {exc}") from exc
        except ValueError as exc:  # e.g. --coins 1 or --weight-limit 0
            raise CommandError(str(exc)) from exc

        def on_sigterm(signum: int, frame: object) -> None:
            # shutdown() waits for serve_forever to return, so it must run in another thread.
            threading.Thread(target=sim.httpd.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, on_sigterm)
        # Paths are generated in the background so the port answers at once.
        sim.warm_in_background()
        self.stdout.write(f"marketsim listening on {sim.base_url}")
        self.stdout.flush()
        try:
            sim.serve_forever()
        except KeyboardInterrupt:
            pass
        self.stdout.write("marketsim stopped")
