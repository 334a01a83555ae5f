"""Serializer errors ({field: [messages]}) as sentences a form can show: "Chat id: …"."""
from __future__ import annotations

from django import template

register = template.Library()

LABELS = {"chat_id": "Telegram chat id", "scan_interval_minutes": "Scan interval", "alerts_enabled": "Alerts",
          "non_field_errors": "", "symbol": "Coin", "scan": ""}


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


@register.filter
def error_lines(errors) -> list[str]:
    lines = []
    for field, value in (errors or {}).items():
        label = LABELS.get(field, field.replace("_", " ").capitalize())
        lines += [f"{label}: {m}" if label else m for m in _messages(value)]
    return lines
