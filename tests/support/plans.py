"""Read PostgreSQL plans: which indexes does a query use?"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def indexes_used(queryset: QuerySet[Any]) -> set[str]:
    """Index names in EXPLAIN (FORMAT JSON) for the queryset. Runs one query."""
    plan = json.loads(queryset.explain(format="json"))[0]["Plan"]
    return {node["Index Name"] for node in _walk(plan) if "Index Name" in node}
