"""Coins, candles and the status of each outside data source."""
from __future__ import annotations

from django.db import models


class Coin(models.Model):
    SPOT = "spot"
    PERPETUAL = "perpetual"
    MARKET_CHOICES = [(SPOT, "Spot"), (PERPETUAL, "USDⓈ-M perpetual")]

    symbol = models.CharField(max_length=32, unique=True)
    base_asset = models.CharField(max_length=24)
    quote_asset = models.CharField(max_length=12)
    has_spot = models.BooleanField(default=True)
    has_perpetual = models.BooleanField(default=False)
    listed_at = models.DateTimeField(null=True, blank=True, help_text="Open time of the first candle ever traded.")
    first_seen_at = models.DateTimeField(auto_now_add=True, help_text="When CryptoSatX first saw the symbol.")
    active = models.BooleanField(default=True, help_text="Trading on the exchange at the last universe refresh.")

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Candle(models.Model):
    """One closed (or, for the newest row, possibly still open) kline as Binance returns it."""

    # No index of its own: the unique constraint's (coin, interval, open_time) index begins with it.
    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="candles", db_index=False)
    interval = models.CharField(max_length=4)
    open_time = models.DateTimeField()
    close_time = models.DateTimeField()
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField()
    quote_volume = models.FloatField()
    trades = models.IntegerField()
    taker_buy_base_volume = models.FloatField()
    taker_buy_quote_volume = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["coin", "interval", "open_time"], name="candle_unique_per_coin_interval_time"),
        ]
        # No other index (not even the foreign key's): the unique constraint serves every query (by coin,
        # interval and time) and the coin's cascade, and each extra index slows the half-million-row
        # inserts of a cold scan.
        ordering = ["coin", "interval", "open_time"]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.interval} {self.open_time:%Y-%m-%d %H:%M}"


class DataSource(models.Model):
    """What we last heard from one outside service: freshness, errors, and whether it was the simulator."""

    name = models.CharField(max_length=32, unique=True)
    base_url = models.CharField(max_length=300)
    simulated = models.BooleanField(default=False, help_text="The last answer came from the CryptoSatX market simulator.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    banned_until = models.DateTimeField(null=True, blank=True, help_text="The service banned our IP (HTTP 418) until then.")

    def __str__(self) -> str:
        return self.name


def data_is_simulated() -> bool:
    """True when any source's latest answer came from the simulator (pages and alerts then say so)."""
    return DataSource.objects.filter(simulated=True).exists()


class MetricPoint(models.Model):
    """The archive (cache level 3) of every non-candle number a scanner reads: funding, open
    interest, long/short ratios, social and supply data, each at the time the service says it was
    measured. Binance keeps open interest and the ratios for 30 days only; this keeps them as long as
    we like, and lets the backtester and the look-ahead check rebuild any past snapshot."""

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="metrics")
    metric = models.CharField(max_length=40)
    at = models.DateTimeField()
    value = models.FloatField()
    source = models.CharField(max_length=24)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["coin", "metric", "at"], name="metricpoint_unique")]
        indexes = [models.Index(fields=["metric", "at"])]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.metric}@{self.at:%Y-%m-%d %H:%M} = {self.value}"
