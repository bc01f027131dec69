"""publish_event: the only way business events reach WebSockets.

Routing is O(1) per event: each connection joins `user.<id>` (and role groups
such as `staff`); an event is sent to the groups it names and nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.realtime.router import ROUTER
from apps.realtime.selectors import realtime_connection_stats
from apps.timeline.models import TimelineKind
from apps.timeline.recorder import push_subject, timeline_record
from lib import metrics
from lib.context import get_correlation_id
from lib.redis import REDIS_ERRORS

logger = structlog.get_logger(__name__)

# The channel-layer message type; consumers handle it in realtime_event().
MESSAGE_TYPE = "realtime.event"
# Asks a user's sockets to check their access again; consumers handle it in access_changed().
ACCESS_MESSAGE_TYPE = "realtime.access"
# The ops console's stream (/ws/ops/). Publishers name it; publish_event sends the event to
# ops_group_for(event_type) instead. No socket joins "ops" itself.
OPS_GROUP = "ops"
# Each kind of ops event (the type before its first dot): its group, and the permission to join it.
OPS_EVENT_GROUPS: dict[str, tuple[str, str]] = {
    "payment": ("ops.payments", "payments.view_payment"),
    "session": ("ops.sessions", "tutoring.view_tutoringsession"),
    "allocation": ("ops.allocations", "allocations.view_trainerallocation"),
}
# Ops events of a kind not listed above: superusers only.
OPS_OTHER_GROUP = "ops.other"
# Every /ws/ops/ socket: the realtime counts, handed over in memory by the instance's heartbeat.
OPS_SNAPSHOT_GROUP = "ops.snapshot"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def ops_group_for(event_type: str) -> str:
    """The /ws/ops/ group an event goes to: "payment.succeeded" -> "ops.payments"; unknown kinds -> superusers."""
    kind = OPS_EVENT_GROUPS.get(event_type.partition(".")[0])
    return OPS_OTHER_GROUP if kind is None else kind[0]


def ops_groups_for_user(user: Any) -> list[str]:
    """The /ws/ops/ groups `user` joins: the snapshot, and each kind of event whose model they may view.

    Runs queries (the user's and their groups' permissions, once per user object): call it
    through database_sync_to_async from a consumer.
    """
    if user.is_superuser:
        return [OPS_SNAPSHOT_GROUP, *(group for group, _ in OPS_EVENT_GROUPS.values()), OPS_OTHER_GROUP]
    allowed = (group for group, permission in OPS_EVENT_GROUPS.values() if user.has_perm(permission))
    return [OPS_SNAPSHOT_GROUP, *allowed]


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

    OPS_GROUP stands for the ops stream: the event goes to ops_group_for(event_type), so
    only staff who may view its model get it.

    Call it from transaction.on_commit(), so an event never announces a rolled-back
    write. Talks to Redis: the whole send is bounded by WS_PUBLISH_TIMEOUT. Safe from
    any thread, an event loop's included (it blocks that thread for the send). Delivery
    is at most once: when Redis is slow or down the event is dropped, logged
    (`realtime_publish_failed`) and counted (`ws_publish_failed`), never raised.
    """
    named = {ops_group_for(event_type) if group == OPS_GROUP else group for group in groups}
    targets = sorted({*(user_group(int(u)) for u in user_ids), *named})
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
        _timeline_push(event, targets, delivered=False)
        return
    metrics.increment("ws_events_published")
    _timeline_push(event, targets, delivered=True)


def realtime_access_changed(*, user_ids: Iterable[int], ended_session: str | None = None) -> None:
    """Ask every open socket of each user, on every instance, to check its access again, once this transaction commits.

    A socket no longer allowed closes (4401, 4403); one still allowed follows its
    groups (a /ws/ops/ socket leaves the kinds its user may no longer view).
    `ended_session`: the session being logged out; its sockets close without a check.
    Talks to Redis on commit, bounded by WS_PUBLISH_TIMEOUT; a failure is logged and
    counted, never raised: the periodic check (WS_ACCESS_RECHECK_INTERVAL) still applies.
    """
    targets = sorted({user_group(int(u)) for u in user_ids})
    if not targets:
        return
    message = {"type": ACCESS_MESSAGE_TYPE, "key": uuid.uuid4().hex, "ended_session": ended_session}
    transaction.on_commit(lambda: _send_access(targets, message))


def _send_access(targets: list[str], message: dict) -> None:
    try:
        _send(targets, message)
    except (*REDIS_ERRORS, TimeoutError) as exc:
        logger.warning("realtime_access_publish_failed", users=len(targets), error_class=type(exc).__name__)
        metrics.increment("ws_access_publish_failed")


def _timeline_push(event: dict, targets: list[str], *, delivered: bool) -> None:
    """Buffered on the subject's timeline (no I/O): which groups were sent the event, or that it was dropped."""
    subject = push_subject(event["type"], event["id"])
    if subject is not None:
        timeline_record(
            subject=subject,
            kind=TimelineKind.PUSH,
            name=event["type"],
            actor="realtime",
            detail={"published": delivered, "groups": targets},
            correlation_id=event["correlation_id"],
        )


def ops_snapshot_text() -> str:
    """The /ws/ops/ frame with this instance's and the cluster's counts (cached: no Redis call)."""
    return json.dumps({"type": "ops.snapshot", "data": realtime_connection_stats(cluster="cached")}, default=str)


def ops_snapshot_push_local() -> None:
    """Hand this instance's /ws/ops/ sockets fresh counts, in memory: each instance feeds its own sockets."""
    if OPS_SNAPSHOT_GROUP in ROUTER.members:
        ROUTER.deliver({"group": OPS_SNAPSHOT_GROUP, "key": uuid.uuid4().hex, "text": ops_snapshot_text()})


def _send(targets: list[str], message: dict) -> None:
    """Run the send on the process's publisher loop and wait for it, at most WS_PUBLISH_TIMEOUT."""
    future = asyncio.run_coroutine_threadsafe(_send_on_loop(targets, message), _publisher_loop())
    try:
        # The coroutine bounds itself; this bound only matters if the publisher loop is stuck.
        future.result(timeout=settings.WS_PUBLISH_TIMEOUT * 1.1)
    except TimeoutError:
        future.cancel()
        raise


async def _send_on_loop(targets: list[str], message: dict) -> None:
    layer = get_channel_layer()
    assert layer is not None  # settings.CHANNEL_LAYERS always names one
    async with asyncio.timeout(settings.WS_PUBLISH_TIMEOUT):
        for group in targets:
            # The group is named so that apps.realtime.router can hand it to that group's sockets.
            await layer.group_send(group, {**message, "group": group})


_publisher: asyncio.AbstractEventLoop | None = None
_publisher_lock = threading.Lock()


def _forget_publisher_after_fork() -> None:
    """A forked child has neither the parent's publisher thread nor, possibly, an unlocked lock."""
    global _publisher, _publisher_lock
    _publisher, _publisher_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_publisher_after_fork)


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """An event loop in a daemon thread, one per process (a forked Celery child starts its own).

    The channel layer keeps one Redis connection per event loop: a loop that lives
    as long as the process keeps that connection between events, where a new loop
    per call (async_to_sync) would connect, send and close every time.
    """
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = asyncio.new_event_loop()
            threading.Thread(target=_publisher.run_forever, name="realtime-publisher", daemon=True).start()
        return _publisher
