"""Numbers with their units, right-aligned by the template, and their sparklines; unknown numbers are "—"."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from apps.telemetry.aggregate import postgres_connection_counts

register = template.Library()

UNKNOWN = "—"
LEVEL_CLASSES = {"ok": "ok", "degraded": "warn", "down": "bad"}
LEVEL_WORDS = {"ok": "OK", "degraded": "Degraded", "down": "Down"}


@register.filter
def num(value: Any, kind: str = "int") -> str:
    """`value` in `kind` units: rps, pct (a 0..1 rate), ms, s (an age), bytes, int, float."""
    if value is None or value == "":
        return UNKNOWN
    try:
        number = float(value)
    except (TypeError, ValueError):
        return UNKNOWN
    return _FORMATS.get(kind, _integer)(number)


def _integer(number: float) -> str:
    return f"{round(number):,}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _bytes(number: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return UNKNOWN  # unreachable: the loop returns at GiB


_FORMATS = {
    "int": _integer,
    "float": lambda n: f"{n:,.1f}",
    "rps": lambda n: f"{n:,.2f} req/s" if n < 10 else f"{n:,.1f} req/s",
    "per_s": lambda n: f"{n:,.1f} /s",
    "pct": lambda n: f"{n * 100:.2f} %",
    "ms": lambda n: f"{n:,.0f} ms" if n >= 10 else f"{n:.1f} ms",
    "s": _age,
    "bytes": _bytes,
}


@register.filter
def level_class(level: str | None) -> str:
    """ok / degraded / down -> the CSS class of green / amber / red, the same on every page."""
    return LEVEL_CLASSES.get(level or "", "unknown")


@register.filter
def level_words(level: str | None) -> str:
    return LEVEL_WORDS.get(level or "", "Unknown")


@register.filter
def get(mapping: Any, key: str) -> Any:
    """mapping[key], or None: tiles the telemetry did not fill render as unknown."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.simple_tag
def trend(series: str, label: str) -> str:
    """A figure's sparkline, the <dd> after its value: console.js draws series `series` into it."""
    return format_html(
        '<dd class="trend"><svg class="spark" data-series="{}" viewBox="0 0 100 24" preserveAspectRatio="none"'
        ' role="img" aria-label="{}"><polyline points=""/></svg></dd>',
        series,
        label,
    )


@register.filter
def connection_counts(connections: list[dict[str, Any]]) -> dict[str, int | None]:
    """The PostgreSQL connections tile's figures, counted as their series are (aggregate.py)."""
    return postgres_connection_counts(connections)
