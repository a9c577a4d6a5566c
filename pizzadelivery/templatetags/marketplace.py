"""Presentation helpers for the storefront: money, sizes, a colour theme per pizzeria."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")
SIZES = {"S": ("S", "26 cm"), "M": ("M", "30 cm"), "L": ("L", "34 cm"), "-": ("", "")}
THEMES = 6


@register.filter
def euro(value: object) -> str:
    """Exact decimal money: ``Decimal("9.5")`` -> ``€9.50`` (never through float)."""
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return ""
    return f"-€{-amount:,}" if amount < 0 else f"€{amount:,}"


@register.filter
def size_short(code: str) -> str:
    return SIZES.get(code, ("", ""))[0]


@register.filter
def size_cm(code: str) -> str:
    return SIZES.get(code, ("", ""))[1]


@register.filter
def theme(restaurant: object) -> int:
    """A stable colour theme (0-5) for a pizzeria's artwork."""
    return int(getattr(restaurant, "pk", 0) or 0) % THEMES
