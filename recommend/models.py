"""Each training of the recommender: its held-out metrics and, when it trained, the fitted model."""
from __future__ import annotations

from django.db import models


class RecommenderModel(models.Model):
    TRAINED, REFUSED = "trained", "refused"
    STATUS_CHOICES = [(TRAINED, "trained"), (REFUSED, "refused: too few labelled outcomes")]

    trained_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=8, choices=STATUS_CHOICES)
    reason = models.TextField(blank=True, help_text="Why it refused to train (and so to predict).")
    horizon = models.CharField(max_length=4, default="24h")
    n_labelled = models.PositiveIntegerField(default=0, help_text="Evaluated outcomes at the horizon.")
    n_train = models.PositiveIntegerField(default=0)
    n_test = models.PositiveIntegerField(default=0)
    n_purged = models.PositiveIntegerField(default=0, help_text=(
        "Older signals left out of training because their outcome was not yet known when the test period began."))
    train_from = models.DateTimeField(null=True, blank=True)
    train_until = models.DateTimeField(null=True, blank=True, help_text="Candle close of the newest training signal.")
    test_from = models.DateTimeField(null=True, blank=True, help_text="Candle close of the oldest test signal.")
    test_until = models.DateTimeField(null=True, blank=True)
    auc = models.FloatField(null=True, blank=True, help_text="ROC AUC on the held-out (newer) test signals.")
    auc_low = models.FloatField(null=True, blank=True, help_text="95% interval (Hanley–McNeil).")
    auc_high = models.FloatField(null=True, blank=True)
    base_rate = models.FloatField(null=True, blank=True, help_text="Share of WINs in the test set.")
    train_base_rate = models.FloatField(null=True, blank=True, help_text="Share of WINs in the training set.")
    brier = models.FloatField(null=True, blank=True, help_text="Mean squared error of the test probabilities.")
    brier_base = models.FloatField(null=True, blank=True,
                                   help_text="The same for predicting the training base rate for every signal.")
    features = models.JSONField(default=list, blank=True)
    blob = models.BinaryField(null=True, blank=True, editable=False, help_text="The fitted model (joblib).")

    class Meta:
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        if self.status == self.REFUSED:
            return f"{self.trained_at:%Y-%m-%d %H:%M} refused"
        return f"{self.trained_at:%Y-%m-%d %H:%M} AUC {self.auc:.3f} (n_test {self.n_test})"

    @property
    def better_than_base_rate(self) -> bool:
        """Only when the AUC's 95% interval lies above 0.5 (what predicting the base rate for all scores)."""
        return self.status == self.TRAINED and self.auc_low is not None and self.auc_low > 0.5

    @classmethod
    def latest(cls) -> "RecommenderModel | None":
        return cls.objects.order_by("-trained_at", "-id").first()
