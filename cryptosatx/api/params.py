"""Query parameters, validated by serializers: a bad value is a 400 naming the parameter and what
is allowed, never a 500. `extend_schema(parameters=[...])` turns the same classes into the
schema's parameter list."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from .constants import DEFAULT_LIMIT, MAX_LIMIT, RESULT_SCANNERS, RUN_SCANNERS, RUN_STATUSES, TIERS
from .fields import BoundedIntegerField, FiniteFloatField, MultipleChoiceListField


def choice(choices: tuple[str, ...], help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, help_text=help_text, error_messages={
        "invalid_choice": f"Must be one of: {', '.join(choices)}."})


class PageParams(serializers.Serializer):
    limit = BoundedIntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, required=False,
                                message=f"Must be an integer between 1 and {MAX_LIMIT}.",
                                help_text=f"Rows per page, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT}).")
    offset = BoundedIntegerField(min_value=0, default=0, required=False,
                                 message="Must be an integer of 0 or more.",
                                 help_text="Rows to skip. Past the end gives an empty `results` list.")


class RankingParams(PageParams):
    tier = MultipleChoiceListField(
        choices=TIERS, required=False,
        help_text="Only these tiers. Repeat the parameter (`tier=TIER_1&tier=TIER_2`) or separate with commas.")
    min_score = FiniteFloatField(min_value=0, max_value=100, required=False,
                                 message="Must be a number between 0 and 100.",
                                 help_text="Only coins whose unified score is at least this (0–100); "
                                           "coins without a score are left out.")
    scanner = choice(RESULT_SCANNERS, "Only coins whose latest unified score includes this scanner's component "
                                      "(a measured value, not a missing one): rsi → technical, smart_money → "
                                      "accumulation, social → social_momentum; mss, whale and volume_spike "
                                      "by their own names.")


class ScanListParams(PageParams):
    scanner = choice(RUN_SCANNERS, "Only runs started for this scanner (`all` = the combined scan).")
    status = choice(RUN_STATUSES, "Only runs with this status.")


def validated(params: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The parameters as Python values, or a ValidationError (DRF answers 400 with the field errors)."""
    serializer = params(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
