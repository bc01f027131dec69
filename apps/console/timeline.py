"""The payment search page's data (/ops/payments and its twin): one function for the page and the API."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.timeline.selectors import timeline_find_payments


def payment_search_page(*, query: str) -> dict[str, Any]:
    """The payments matching `query`, each with its timeline's URL; `results` is None before a search.

    Runs the timeline's bounded queries; raises ValueError for a query it cannot search
    for and OperationalError when a read outlasts TIMELINE_SQL_TIMEOUT.
    """
    if not query.strip():
        return {"query": query, "results": None}
    found = timeline_find_payments(query=query)
    return {
        "query": query,
        "results": [{"payment_id": pid, "url": reverse("console:payment", args=[pid])} for pid in found],
    }
