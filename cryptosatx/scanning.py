"""The wiring of a scan: the scanners package fetches and scores, signals turns the scores into
unified scores. Commands and tasks call `scan` here, so each package keeps its one-way imports
(marketdata <- scanners <- signals)."""
from __future__ import annotations

from scanners.engine import run_scan
from scanners.models import ScanRun
from scanners.pipeline import Thresholds
from signals.models import ScoringConfig
from signals.outbox import record_signals
from signals.ranking import update_unified


def current_thresholds() -> Thresholds:
    """The scanner thresholds as edited in admin (ScoringConfig, created from .env on first use)."""
    c = ScoringConfig.current()
    return Thresholds(c.accumulation_threshold, c.distribution_threshold, c.mss_threshold, c.rsi_oversold,
                      c.rsi_overbought, Thresholds.from_settings().rsi_period)


def scan(scanner: str, symbols: list[str] | None = None) -> ScanRun:
    """Run a scan with the admin's thresholds, store its results and the coins' unified scores, and
    write the signals it raised with their alert deliveries (the outbox the sender task drains)."""
    run = run_scan(scanner, symbols, thresholds=current_thresholds(), on_scored=update_unified)
    if run.status != ScanRun.FAILED:
        record_signals(run)
    return run
