"""Numbers as a trader reads them: prices to 8 significant digits, P&L with its sign."""
from django import template

register = template.Library()


@register.filter
def num(value, digits: int = 8) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):,.{int(digits)}g}" if abs(float(value)) < 1e6 else f"{float(value):,.2f}"


@register.filter
def signed(value, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{float(value):+,.{int(places)}f}"


@register.filter
def pnl_class(value) -> str:
    if value is None:
        return ""
    return "win" if value > 0 else "loss" if value < 0 else ""
