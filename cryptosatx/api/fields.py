"""Serializer fields the stock ones lack: strict numbers with one clear message, lists given
repeated or comma-separated, and blank-as-null output."""
from __future__ import annotations

import math
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty


class FiniteFloatField(serializers.FloatField):
    """A float within [min_value, max_value]; NaN and ±inf are refused (NaN slips past min/max
    comparisons, and the database cannot compare it). Every failure gives the one message."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        # Passed in, not updated afterwards: the min/max validators copy their message at init.
        super().__init__(error_messages=dict.fromkeys(
            ("invalid", "max_value", "min_value", "overflow", "max_string_length", "null", "required"), message),
            **kwargs)

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class BoundedIntegerField(serializers.IntegerField):
    """An integer field whose every failure says what is allowed, in one message."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(error_messages=dict.fromkeys(
            ("invalid", "max_value", "min_value", "max_string_length", "null", "required"), message), **kwargs)


class MultipleChoiceListField(serializers.ListField):
    """Choices given repeated (`?tier=A&tier=B`) or comma-separated (`?tier=A,B`), case-insensitive;
    duplicates collapse. Empty values are dropped, and a parameter with nothing else is "not given",
    as DRF treats every other empty query parameter (a form's "any" option sends `tier=`)."""

    def __init__(self, *, choices: tuple[str, ...], **kwargs: Any) -> None:
        message = self.message = f"Each value must be one of: {', '.join(choices)}."
        super().__init__(child=serializers.ChoiceField(choices=choices, error_messages={"invalid_choice": message}),
                         allow_empty=False, error_messages={"empty": message, "not_a_list": message}, **kwargs)

    def get_value(self, dictionary: Any) -> Any:
        value = super().get_value(dictionary)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = [part.strip() for item in value for part in str(item).split(",") if part.strip()]
            return value or empty
        return value

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            values = super().to_internal_value([str(item).upper() for item in data] if isinstance(data, list) else data)
        except serializers.ValidationError:  # one message, not one per position ({"0": [...], "1": [...]})
            raise serializers.ValidationError([self.message]) from None
        return list(dict.fromkeys(values))


class BlankAsNullChoiceField(serializers.ChoiceField):
    """Output only: the models store "" for "none"; the API says null, so clients test one thing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value in ("", None) else value


class BlankAsNullCharField(serializers.CharField):
    """Output only, as BlankAsNullChoiceField, for free text (a signal name, an error message)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value in ("", None) else str(value)
