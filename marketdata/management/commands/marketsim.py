"""`manage.py marketsim`: run the market simulator in the foreground until Ctrl-C or SIGTERM."""
from __future__ import annotations

import signal
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.simulator.server import SimulatorServer


def _default_port() -> int:
    """The port of settings.SIMULATOR_URL, so the app and the simulator agree by default."""
    url = getattr(settings, "SIMULATOR_URL", "") or "http://127.0.0.1:8765"
    return urlsplit(url).port or 8765


class Command(BaseCommand):
    help = "Run the deterministic market simulator (Binance spot wire format) on loopback."
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

    def handle(self, *args: Any, **opts: Any) -> None:
        port = opts["port"] if opts["port"] is not None else _default_port()
        try:
            sim = SimulatorServer(
                seed=opts["seed"], coins=opts["coins"], host=opts["host"], port=port,
                latency_ms=opts["latency_ms"], jitter_ms=opts["jitter_ms"],
                weight_limit=opts["weight_limit"], window_seconds=opts["window_seconds"],
                ban_after=opts["ban_after"],
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
