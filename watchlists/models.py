"""A user's watchlists (PLAN.md §5.1): named coin lists that can be scanned on their own schedule
and can narrow their owner's Telegram alerts to their coins."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from marketdata.models import Coin

NAME_MAX = 80
MAX_COINS = 100  # a watchlist scan runs inside a request: measured times in docs/users.md
MIN_INTERVAL, MAX_INTERVAL = 15, 7 * 24 * 60  # minutes; the global scanners run hourly at the most


class Watchlist(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=NAME_MAX)
    coins = models.ManyToManyField(Coin, blank=True, related_name="watchlists")
    alerts_enabled = models.BooleanField(
        default=False, help_text="Narrow the owner's Telegram alerts to the coins of their alert-enabled watchlists.")
    scan_interval_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text=f"Scan these coins every this many minutes ({MIN_INTERVAL}–{MAX_INTERVAL}); empty = no schedule.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(Lower("name"), "owner", name="watchlist_name_unique_per_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner_id})"


class WatchlistScanSlot(models.Model):
    """One row per scheduled slot of a watchlist: the idempotency key that makes a slot scan once
    (two clusters, a retried task), as scanners.ScanSlot does for the global scanners."""

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="scan_slots")
    slot_start = models.DateTimeField()
    run = models.ForeignKey("scanners.ScanRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    skipped = models.CharField(max_length=200, blank=True, help_text="Why the slot did not scan, if it did not.")
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-slot_start"]
        constraints = [models.UniqueConstraint(fields=["watchlist", "slot_start"], name="watchlistscanslot_once")]

    def __str__(self) -> str:
        return f"watchlist {self.watchlist_id} @ {self.slot_start:%Y-%m-%d %H:%M}"
