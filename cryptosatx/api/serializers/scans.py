"""Scan runs: what was scanned, how much of it, what it cost in requests, and what failed."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scanners.models import ScanRun

from ..constants import LIST_ERRORS, RUN_SCANNERS, RUN_STATUSES
from .common import FreeJSONField


class RequestStatsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    weight = serializers.IntegerField(help_text="Rate-limit weight spent.")
    retries = serializers.IntegerField()
    errors = serializers.IntegerField()
    statuses = serializers.DictField(child=serializers.IntegerField(), help_text="{HTTP status: responses}.")
    buckets = serializers.DictField(child=serializers.IntegerField(), required=False, help_text=(
        "Calls per capped endpoint group."))


class ScanErrorSerializer(serializers.Serializer):
    symbol = serializers.CharField(help_text='The coin, or "*" for the whole scan.')
    error = serializers.CharField()


@extend_schema_field(serializers.DictField(child=RequestStatsSerializer()))
class RequestsField(serializers.JSONField):
    """{service: stats}, passed through as the engine stored it."""


@extend_schema_field(ScanErrorSerializer(many=True))
class ErrorsField(serializers.JSONField):
    """[{symbol, error}], passed through as the engine stored it."""


class ScanRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scanner = serializers.ChoiceField(choices=RUN_SCANNERS)
    status = serializers.ChoiceField(choices=RUN_STATUSES)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, help_text="Null while running.")
    universe_size = serializers.IntegerField(help_text="Coins the scan set out to score.")
    scored = serializers.IntegerField(help_text="Coins that got a score.")
    coverage = serializers.SerializerMethodField(help_text=(
        "scored / universe_size, 0–1 to 4 places; null before the universe is known."))
    simulated = serializers.BooleanField(help_text="Its data came from the market simulator.")
    requests = RequestsField(help_text="Requests, weight, retries, errors and HTTP statuses per outside service.")
    error_count = serializers.SerializerMethodField()
    errors = ErrorsField(help_text="Every per-coin and per-request error.")
    parameters = FreeJSONField()

    def get_coverage(self, run: ScanRun) -> float | None:
        return None if run.coverage is None else round(run.coverage, 4)

    def get_error_count(self, run: ScanRun) -> int:
        return len(run.errors) if isinstance(run.errors, list) else 0


class ScanRunListItemSerializer(ScanRunSerializer):
    errors = serializers.SerializerMethodField(help_text=(
        f"The first {LIST_ERRORS} errors; error_count has the total and /api/scans/{{id}} has them all."))

    @extend_schema_field(ScanErrorSerializer(many=True))
    def get_errors(self, run: ScanRun) -> list[Any]:
        return run.errors[:LIST_ERRORS] if isinstance(run.errors, list) else []


class ScanRunPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Runs that match the filters.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ScanRunListItemSerializer(many=True)
