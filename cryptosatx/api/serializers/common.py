"""Shapes shared by several endpoints: errors and free-form JSON with a documented shape."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import serializers


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")


NOT_FOUND = OpenApiResponse(DetailSerializer, description="No such object.")
FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}


def bad_request(description: str, example: dict[str, list[str]]) -> OpenApiResponse:
    """A 400 whose body is {field: [messages]}, as DRF's ValidationError renders it."""
    return OpenApiResponse(FIELD_ERRORS, description=description,
                           examples=[OpenApiExample("Example", value=example)])


def bad_parameters(example: dict[str, list[str]]) -> OpenApiResponse:
    return bad_request("A query parameter is invalid: {parameter: [what is allowed]}.", example)


# A number, a flag, a string or null: the values scanners store in `scores`.
SCALAR = {"oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}], "nullable": True}


@extend_schema_field({"type": "object", "additionalProperties": SCALAR,
                      "example": {"rsi": 27.4, "technical": 7.0}})
class ScoresField(serializers.JSONField):
    """Every number a scanner computed, by name, e.g. rsi: {rsi, technical}; smart_money:
    {accumulation, distribution}; mss: {mss, coverage}; social: {momentum, trending, galaxy_score,
    alt_rank}; whale: {whale}; volume_spike: {volume_spike, ratio}."""


@extend_schema_field({"type": "object", "additionalProperties": True})
class FreeJSONField(serializers.JSONField):
    """Stored JSON passed through unchanged."""
