import json as jsonlib
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from marketdata.models import DataSource
from scanners.coindata import HOUR_MS, utc_ms
from cryptosatx.scanning import current_thresholds as thresholds
from scanners.evaluation import GroundTruthError, check_candles_match, evaluate, fetch_ground_truth, replay
from scanners.history import load_history
from scanners.lookahead import evaluation_times


def _fmt(r: dict) -> str:
    if r["rate"] is None:
        return f"n/a (n = {r['n']})"
    lo, hi = r["ci95"]
    return f"{100 * r['rate']:.1f}% ({r['k']}/{r['n']}, 95% CI {100 * lo:.1f}–{100 * hi:.1f}%)"


class Command(BaseCommand):
    help = ("Replay the scanners over stored history and measure them against the simulator's planted episodes "
            "(GET {SIMULATOR_URL}/sim/episodes): precision and recall of accumulation and distribution calls, "
            "and the 7-day hit rate of MSS ≥ 75 listings. Ground truth exists only for simulated markets.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=30, help="Evaluate over the last N days (default 30).")
        parser.add_argument("--step-hours", type=int, default=1, help="Hours between evaluation times (default 1).")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--coins", default="", help="Comma-separated symbols.")
        which.add_argument("--limit", type=int, default=None, help="The first N coins by symbol (default: all).")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, days, step_hours, coins, limit, json: bool = False, **options):
        if not 0 < days <= 365 or not 1 <= step_hours <= 24 * 7 or (limit is not None and not 1 <= limit <= 5000):
            raise CommandError("--days must be in (0, 365], --step-hours in [1, 168], --limit in [1, 5000].")
        self._require_simulated_data()
        end = timezone.now()
        start = end - timedelta(days=days)
        times = evaluation_times(start, end, timedelta(hours=step_hours))
        try:  # fail before the replay if there is no ground truth to compare with
            truth = fetch_ground_truth(settings.SIMULATOR_URL, utc_ms(times[0]) - HOUR_MS, utc_ms(end))
        except GroundTruthError as exc:
            raise CommandError(str(exc)) from exc
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        history = load_history(start, end, symbols, None if symbols else limit)
        history = {s: cd for s, cd in history.items() if cd.candles}
        if not history:
            raise CommandError("No stored candles in that range: run `manage.py backfill --days N "
                               "--metrics-days N` first.")
        try:
            checked = check_candles_match(settings.SIMULATOR_URL, history)
        except GroundTruthError as exc:
            raise CommandError(str(exc)) from exc
        t = thresholds()
        if not json:
            self.stdout.write(f"Replaying {len(history)} coins at {len(times)} times…")
        rp = replay(history, times, t)
        report = evaluate(history, rp, truth["episodes"], t, utc_ms(timezone.now()))
        report["simulator"] = {**truth["simulator"], "candles_checked": checked}
        report["notes"] = [
            "Replayed scores lack social inputs (LunarCrush has no history endpoint), and FDV and circulating "
            "supply unless live scans archived them: those inputs are missing, not 0. "
            "See missing_inputs_share.",
            "Calls that start after an episode has ended count as false positives, even while the 24h "
            "windows still contain it.",
        ]
        if json:
            self.stdout.write(jsonlib.dumps(report))
            return
        self._print(report)

    def _require_simulated_data(self) -> None:
        spot = DataSource.objects.filter(name="binance_spot").first()
        if spot is None or spot.last_success_at is None:
            raise CommandError("No market data stored yet: run `manage.py backfill` against the simulator first.")
        if not spot.simulated:
            raise CommandError(f"The stored market data come from {spot.base_url}, not the simulator: ground truth "
                               "(planted episodes) exists only for simulated markets.")
        if spot.base_url.rstrip("/") != settings.SIMULATOR_URL.rstrip("/"):
            raise CommandError(f"The stored market data come from the simulator at {spot.base_url}, but SIMULATOR_URL "
                               f"is {settings.SIMULATOR_URL}: point SIMULATOR_URL at the simulator that served them.")

    def _print(self, r: dict) -> None:
        rng, sim = r["range"], r["simulator"]
        self.stdout.write(f"{r['coins']['evaluated']} coins ({r['coins']['with_futures_metrics']} with futures "
                          f"metrics), {rng['evaluations']} evaluations every {rng['step_hours']:g}h from "
                          f"{rng['start']} to {rng['end']}; simulator seed {sim['seed']} at {sim['url']}, "
                          f"planted {sim['planted_params']}.")
        for kind in ("accumulation", "distribution"):
            k = r[kind]
            self.stdout.write(f"{kind}: {k['events']} call events, {k['true_positive_events']} true positives; "
                              f"{k['episodes']} planted episodes, {k['episodes_hit']} called.")
            self.stdout.write(f"  precision {_fmt(k['precision'])}")
            self.stdout.write(f"  recall    {_fmt(k['recall'])}; episodes wholly in range "
                              f"{_fmt(k['recall_complete_episodes'])}")
            by = k["recall_by_market"]
            self.stdout.write(f"  recall on coins with futures metrics {_fmt(by['with_futures_metrics'])}, "
                              f"without {_fmt(by['without'])}")
            self.stdout.write(f"  base rate {_fmt(k['base_rate'])} of coin-hours; called coin-hours in an episode "
                              f"{_fmt(k['precision_coin_hours'])}; lift {k['lift']}")
        m = r["mss"]
        self.stdout.write(f"MSS ≥ {m['threshold']:g}: {m['reached']} of {m['listings_scored']} listings scored; "
                          f"7-day > +5% hit rate {_fmt(m['hit_rate'])}, {m['pending']} pending.")
        missing = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["missing_inputs_share"].items())
        self.stdout.write(f"Missing smart-money inputs (share of coin-hours): {missing or 'none'}.")
        for note in r["notes"]:
            self.stdout.write(f"Note: {note}")
