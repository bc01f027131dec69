"""The pipeline's one way to publish a business event to the console's live views.

The realtime layer (apps.realtime.services.publish_event) delivers it over
WebSockets. This module is the single seam: tests replace
`pipeline_publish_event`, and until the realtime app is installed the event is
logged and dropped (it is a notification; the data is already in PostgreSQL).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import structlog

from apps.core.context import get_correlation_id

logger = structlog.get_logger(__name__)


def pipeline_publish_event(
    *,
    event_type: str,
    object_id: int | str,
    data: dict[str, Any],
    user_ids: Iterable[int] = (),
    groups: Iterable[str] = (),
) -> bool:
    """Publish through the realtime layer; False when it is not installed.

    Talks to the channel layer (Redis), bounded by its own timeouts; errors
    other than a missing module propagate so the task's retry policy sees them.
    """
    publish = _realtime_publish()
    if publish is None:
        logger.info("pipeline_event_not_published", event_type=event_type, object_id=object_id, why="no_realtime")
        return False
    publish(
        event_type=event_type,
        object_id=object_id,
        data=data,
        user_ids=tuple(user_ids),
        groups=tuple(groups),
        correlation_id=get_correlation_id(),
    )
    logger.info("pipeline_event_published", event_type=event_type, object_id=object_id)
    return True


def _realtime_publish() -> Any:
    try:
        module = importlib.import_module("apps.realtime.services")
    except ModuleNotFoundError as exc:
        if exc.name not in ("apps.realtime", "apps.realtime.services"):
            raise
        return None
    return getattr(module, "publish_event", None)
