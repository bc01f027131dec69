"""Read PostgreSQL plans: which indexes does a query use?"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def indexes_used(queryset: QuerySet[Any]) -> set[str]:
    """Index names in EXPLAIN (FORMAT JSON) for the queryset. Runs one query."""
    plan = json.loads(queryset.explain(format="json"))[0]["Plan"]
    return {node["Index Name"] for node in _walk(plan) if "Index Name" in node}


def indexes_used_by(call: Callable[[], object]) -> set[str]:
    """Index names in the plans of the SELECTs `call` runs: each captured statement is EXPLAINed as sent.

    For selectors that return a row, a count or a list rather than a queryset, so the
    test checks the query the application runs. A returned queryset is evaluated.
    """
    with CaptureQueriesContext(connection) as captured:
        result = call()
        if isinstance(result, QuerySet):
            list(result)
    selects = [
        query["sql"] for query in captured.captured_queries if query["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert selects, "the call ran no SELECT"
    names: set[str] = set()
    for sql in selects:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            (plan,) = cursor.fetchone()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        names |= {node["Index Name"] for node in _walk(plan[0]["Plan"]) if "Index Name" in node}
    return names
