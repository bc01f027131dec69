"""publish_event: the only way business events reach WebSockets.

Routing is O(1) per event: each connection joins `user.<id>` (and role groups
such as `staff`); an event is sent to the groups it names and nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from apps.core import metrics
from apps.core.context import get_correlation_id
from apps.core.redis import REDIS_ERRORS

logger = structlog.get_logger(__name__)

# The channel-layer message type; consumers handle it in realtime_event().
MESSAGE_TYPE = "realtime.event"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish_event(
    *,
    event_type: str,
    object_id: str | int,
    data: dict,
    user_ids: Iterable[int] = (),
    groups: Iterable[str] = (),
    correlation_id: str | None = None,
) -> None:
    """Send `{type, id, occurred_at, correlation_id, data}` to each user's and each named group.

    Call it from transaction.on_commit(), so an event never announces a rolled-back
    write. Talks to Redis: the whole send is bounded by WS_PUBLISH_TIMEOUT. Delivery
    is at most once: when Redis is slow or down the event is dropped, logged
    (`realtime_publish_failed`) and counted (`ws_publish_failed`), never raised.
    """
    targets = sorted({*(user_group(int(u)) for u in user_ids), *groups})
    if not targets:
        return
    event = {
        "type": event_type,
        "id": object_id,
        "occurred_at": timezone.now().isoformat(),
        "correlation_id": correlation_id or get_correlation_id(),
        "data": data,
    }
    # Serialized once: every connection forwards the same text.
    message = {"type": MESSAGE_TYPE, "key": uuid.uuid4().hex, "text": json.dumps(event, default=str)}
    try:
        _send(targets, message)
    except (*REDIS_ERRORS, TimeoutError) as exc:
        logger.warning(
            "realtime_publish_failed", event_type=event_type, groups=len(targets), error_class=type(exc).__name__
        )
        metrics.increment("ws_publish_failed")
        return
    metrics.increment("ws_events_published")


@async_to_sync
async def _send(targets: list[str], message: dict) -> None:
    layer = get_channel_layer()
    async with asyncio.timeout(settings.WS_PUBLISH_TIMEOUT):
        for group in targets:
            await layer.group_send(group, message)
