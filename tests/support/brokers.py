"""`redis_broker_only(reason)`: a test whose behaviour lives in Redis as the broker is skipped on RabbitMQ.

`make test-rabbitmq` runs the worker suite with CELERY_BROKER_URL=amqp://…; a test that freezes Redis as the
broker, reads Redis visibility timeouts or inspects the broker's Redis keys says why in its reason, which the
run's summary shows beside the count of tests it left out.
"""

from __future__ import annotations

import pytest
from django.conf import settings

MARKER = "redis_broker_only"
_skipped: list[str] = []


def redis_broker_only_reason(item: pytest.Item) -> str | None:
    """The marker's reason when `item` carries it; a marker without a reason is refused."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
    if not reason:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason saying why")
    return str(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = redis_broker_only_reason(item)
        if reason is not None and settings.CELERY_BROKER_KIND != "redis":
            item.add_marker(pytest.mark.skip(reason=f"Redis broker only: {reason}"))
            _skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"{len(_skipped)} test(s) marked {MARKER} skipped on the {settings.CELERY_BROKER_KIND} broker"
        )
