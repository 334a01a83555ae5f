import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from cryptosatx.scanning import scan
from scanners.engine import UnknownSymbolsError
from scanners.models import ScanRun

from scanners.engine import SCAN_GROUPS

SCANNERS = list(SCAN_GROUPS)


class Command(BaseCommand):
    help = "Run a scanner over the universe (or --coins) and store the run."

    def add_arguments(self, parser):
        parser.add_argument("scanner", choices=SCANNERS)
        parser.add_argument("--coins", default="", help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object with a results list.")

    def handle(self, *args, scanner, coins, json: bool = False, **options):
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        try:
            run = scan(scanner, symbols)
        except UnknownSymbolsError as exc:
            raise CommandError(f"{exc} (not listed on the exchange)") from exc
        if json:
            self.stdout.write(jsonlib.dumps(run_as_json(run)))
        else:
            self.stdout.write(f"{scanner} scan #{run.pk}: {run.status}, {run.scored}/{run.universe_size} coins scored, "
                              f"{len(run.errors)} errors{' (simulated market)' if run.simulated else ''}.")
            for result in run.results.exclude(signal="").select_related("coin").order_by("scanner", "coin__symbol")[:50]:
                self.stdout.write(f"  {result.scanner:<13} {result.coin.symbol:<14} {result.signal:<13} "
                                  f"score {result.score}")
        if scanner == "mss" and symbols and run.universe_size == 0:
            raise CommandError(f"none of {', '.join(symbols)} is a listing younger than 7 days: MSS scores new "
                               "listings only (scan all or smart_money for older coins).")
        if run.status == ScanRun.FAILED or (symbols and run.scored == 0):
            errors = "; ".join(f"{e['symbol']}: {e['error']}" for e in run.errors[:5])
            raise CommandError(f"scan {run.status}: {errors or 'no coin could be scored'}")


def run_as_json(run: ScanRun) -> dict:
    """One JSON object: the run, and per coin its results (`scan rsi` keeps the flat RSI shape)."""
    from signals.models import UnifiedScore

    results: dict[str, dict] = {}
    for r in run.results.select_related("coin").order_by("coin__symbol", "scanner"):
        if run.scanner == "rsi":
            results[r.coin.symbol] = {
                "symbol": r.coin.symbol, "rsi": r.scores.get("rsi"), "signal": r.signal or None,
                "direction": r.direction or None, "score": r.score, "reasons": r.reasons, "missing": r.missing,
                "candle_close_time": r.data_as_of.isoformat() if r.data_as_of else None}
            continue
        entry = results.setdefault(r.coin.symbol, {
            "symbol": r.coin.symbol, "candle_close_time": r.data_as_of.isoformat() if r.data_as_of else None,
            "scanners": {}})
        entry["scanners"][r.scanner] = {"score": r.score, "scores": r.scores, "signal": r.signal or None,
                                        "direction": r.direction or None, "reasons": r.reasons, "missing": r.missing}
    if run.scanner != "rsi":
        for u in UnifiedScore.objects.filter(run=run).select_related("coin"):
            if u.coin.symbol in results:
                results[u.coin.symbol]["unified"] = {
                    "unified_score": u.unified_score, "tier": u.tier or None, "label": u.label or None,
                    "action": u.action, "confidence": u.confidence, "coverage": u.coverage,
                    "confirmations": u.confirmations, "agreeing_scanners": u.agreeing_scanners,
                    "risk_level": u.risk_level, "missing": u.missing}
    return {"run_id": run.pk, "scanner": run.scanner, "status": run.status, "simulated": run.simulated,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "universe_size": run.universe_size, "scored": run.scored, "coverage": run.coverage,
            "requests": run.requests, "errors": run.errors, "results": list(results.values())}
