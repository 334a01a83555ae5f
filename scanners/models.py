"""One row per scan (ScanRun) and one per coin scored in it (ScanResult)."""
from __future__ import annotations

from django.db import models

from marketdata.models import Coin


class ScanRun(models.Model):
    RUNNING, COMPLETED, PARTIAL, FAILED = "running", "completed", "partial", "failed"
    STATUS_CHOICES = [(s, s) for s in (RUNNING, COMPLETED, PARTIAL, FAILED)]

    scanner = models.CharField(max_length=32, db_index=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    universe_size = models.IntegerField(default=0, help_text="Coins the scan set out to score.")
    scored = models.IntegerField(default=0, help_text="Coins that got a score.")
    requests = models.JSONField(default=dict, blank=True, help_text="Requests and weight spent, per outside service.")
    errors = models.JSONField(default=list, blank=True, help_text="Per-coin and per-request errors: [{symbol, error}].")
    simulated = models.BooleanField(default=False, help_text="Its data came from the market simulator.")
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.scanner} #{self.pk} ({self.status})"

    @property
    def coverage(self) -> float | None:
        """Share of the universe that was scored (None before the universe is known)."""
        if not self.universe_size:
            return None
        return self.scored / self.universe_size

    @property
    def duration_seconds(self) -> float | None:
        if not self.finished_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ScanResult(models.Model):
    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="results")
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="scan_results")
    scanner = models.CharField(max_length=32)
    score = models.FloatField(null=True, blank=True, help_text="The scanner's main score (RSI: the 0–10 technical score).")
    scores = models.JSONField(default=dict, blank=True, help_text="Every number the scanner computed, e.g. {rsi: 23.4}.")
    signal = models.CharField(max_length=32, blank=True, help_text="e.g. oversold, overbought, accumulating.")
    direction = models.CharField(max_length=8, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    inputs = models.JSONField(default=dict, blank=True, help_text="Inputs used, each with its data timestamp.")
    missing = models.JSONField(default=list, blank=True, help_text="Inputs that were not available.")
    data_as_of = models.DateTimeField(null=True, blank=True, help_text="Close time of the newest candle used.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "coin", "scanner"], name="scanresult_unique_per_run_coin_scanner")]
        indexes = [models.Index(fields=["scanner", "coin", "-created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.scanner} {self.coin_id} {self.score}"


class ScanSlot(models.Model):
    """One row per scheduled slot of a scanner: the idempotency key that makes a slot run once even
    when two q clusters pick up the same schedule, and the record of a slot that was skipped."""

    scanner = models.CharField(max_length=32)
    slot_start = models.DateTimeField()
    run = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    skipped = models.CharField(max_length=200, blank=True, help_text="Why the slot did not scan, if it did not.")
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scanner", "slot_start"], name="scanslot_once_per_slot")]
        ordering = ["-slot_start"]

    def __str__(self) -> str:
        return f"{self.scanner} @ {self.slot_start:%Y-%m-%d %H:%M}"


class ClusterHeartbeat(models.Model):
    """One row per django-q2 cluster (`qcluster` process), written by `cryptosatx.heartbeat`
    while it works and every minute while it idles; `alive_clusters()` reads it."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid of the qcluster process.")
    host = models.CharField(max_length=150)
    pid = models.IntegerField()
    started_at = models.DateTimeField(help_text="When this cluster was first seen.")
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.name} (last seen {self.last_seen:%Y-%m-%d %H:%M:%S})"


class ScanChunk(models.Model):
    """One slice of a chunked scan's universe (scanners.chunks): any q cluster may run it, and the
    run is assembled once every chunk is finished. `finished_at` is set in the same transaction as
    the chunk's results, so a chunk that runs twice (its worker died, the broker handed it out again)
    writes them once."""

    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.IntegerField()
    symbols = models.JSONField(default=list)
    bulk = models.JSONField(default=dict, help_text="Per coin, what the run's bulk stage fetched for it.")
    shortlist_budget = models.IntegerField(default=0, help_text="This chunk's share of the capped calls.")
    attempts = models.IntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the last worker that ran it.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    scored = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    requests = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="scanchunk_unique_per_run")]
        ordering = ["run", "index"]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.index}"
