"""The project app's own state: the dead-man alert's memory (cryptosatx.deadman)."""
from django.db import models


class DeadmanState(models.Model):
    """One row. What the dead-man check last announced, so an outage is told once and its end once."""

    late = models.JSONField(default=list, blank=True, help_text="The scanners announced late (no completed scan "
                                                                 "within twice their interval), sorted.")
    since = models.DateTimeField(null=True, blank=True, help_text="When the current outage was first seen.")
    watching_since = models.DateTimeField(auto_now_add=True, help_text="First check: a scanner that never "
                                                                       "completed a scan is late two intervals later.")
    pending_text = models.TextField(blank=True, help_text="A message decided but not yet delivered to every chat.")
    pending_kind = models.CharField(max_length=16, blank=True)  # "down" | "recovered"
    pending_to = models.JSONField(default=list, blank=True, help_text="Chat ids the pending message still goes to.")
    sending_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending until then (lease).")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "dead-man alert state"

    def __str__(self) -> str:
        return f"dead-man: {', '.join(self.late) or 'all scanners on time'}"
