"""One backtest a user asked for: its strategy, its progress as a django-q2 job, and its results."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class BacktestRun(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED)]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    name = models.CharField(max_length=100, blank=True)
    strategy = models.JSONField(help_text="The validated strategy (backtest.strategy), as it ran.")
    status = models.CharField(max_length=8, choices=STATUS_CHOICES, default=QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0–100.")
    error = models.TextField(blank=True)
    results = models.JSONField(null=True, blank=True,
                               help_text="metrics, equity_curve (≤ 1,000 points), trades, data, seconds.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"backtest #{self.pk} {self.name or ''} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)
