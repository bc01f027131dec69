"""WebSocket consumers: parse frames, enforce the bounds, forward events. Logic lives in services/tracking.

Close codes: 4401 anonymous, 4403 not allowed (non-staff on /ws/ops/), 1013
instance full / Redis unavailable / draining / slow reader, 1008 per-user cap or
repeated policy errors, 1007 repeated malformed JSON, 1003 repeated binary
frames, 1009 repeated oversized frames, 1001 graceful drain. An open socket whose
access is revoked closes with the handshake's codes: 4401 signed out (logout, new
password, deactivated, deleted), 4403 no longer allowed (no longer staff on /ws/ops/).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from typing import Any

import structlog
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.console.live import ensure_overview_feed
from apps.realtime import tracking
from apps.realtime.lifecycle import ensure_access_sweep, ensure_heartbeat
from apps.realtime.router import ROUTER
from apps.realtime.selectors import realtime_signed_in_users
from apps.realtime.services import ACCESS_MESSAGE_TYPE, ops_groups_for_user, ops_snapshot_text, user_group
from apps.realtime.state import STATE, frame_after_close, refused
from lib import metrics
from lib.rates import parse_rate
from lib.redis import REDIS_ERRORS

logger = structlog.get_logger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
# Recent event keys remembered per connection: an event sent to both user.<id> and staff arrives once.
SEEN_KEYS = 32


class EventsConsumer(AsyncWebsocketConsumer):
    """/ws/events/: the signed-in user's own events, plus their role groups'."""

    connection_id = ""
    user_id = 0
    session_key: str | None = None  # the handshake's session: the one its access is checked against
    rechecking: asyncio.Task[None] | None = None
    recheck_again = False  # an access change arrived while a check was running
    reserved = False  # holds a slot of this instance's caps
    in_redis = False  # may have tracking keys in Redis
    tracked = False  # in STATE.connections, the router and Redis
    close_sent = False  # a second websocket.close makes the server raise
    frames_after_close = 0  # client frames that arrived after we started closing, dropped
    # Allocated on first use: an idle socket holds neither (a deque is ~600 bytes even when empty).
    queue: deque[str] | None = None
    seen: deque[str] | None = None

    async def role_groups(self, user: Any) -> list[str]:
        return ["staff"] if user.is_staff else []

    def allowed(self, user: Any) -> bool:
        return True

    # The stub types scope as its private _ChannelScope TypedDict; any ASGI scope dict does here.
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:  # type: ignore[override]
        """Channels' __call__ without a layer channel per socket: events come through apps.realtime.router.

        Channels would also wrap every receive in a new task (await_many_dispatch);
        with one source to read, a plain loop does.
        """
        # No layer per socket (None, as Channels sets it without CHANNEL_LAYERS; the stub does not allow it).
        self.scope, self.base_send, self.channel_layer = scope, send, None  # type: ignore[assignment]
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # A client gone mid-handshake makes accept() raise: no disconnect message ever comes.
            await self._close_out(code=1006)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its close_old_connections() before every message.

        That call is a hop to the one thread that also runs every handshake's
        session lookup, paid per frame, per event and per connect/disconnect: under
        churn on a busy 2-core machine the session lookups queued behind those
        hops. These handlers never touch the ORM (auth runs in the middleware,
        and /ws/ops/ reads permissions through database_sync_to_async, both of which
        close their own connections), so there is nothing to close.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Handshake -----------------------------------------------------------

    async def connect(self) -> None:
        self.closing = False
        self.accepted = False  # the router may deliver while the handshake is still joining groups
        self.writer: asyncio.Task[None] | None = None
        self.errors = 0
        self.window_start, self.window_count = time.monotonic(), 0
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self._refuse(CLOSE_UNAUTHENTICATED, "unauthenticated")
        if not self.allowed(user):
            return await self._refuse(CLOSE_FORBIDDEN, "forbidden")
        reason = STATE.reserve(user.id)
        if reason is not None:
            code = CLOSE_POLICY if reason == "user_limit" else CLOSE_TRY_AGAIN_LATER
            return await self._refuse(code, reason)
        self.user_id, self.reserved, self.connection_id = user.id, True, uuid.uuid4().hex
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.groups_joined = [user_group(user.id), *await self.role_groups(user)]
        reason = await self._track_and_join()
        if reason is not None:
            self._release_slot()
            code = CLOSE_POLICY if reason == "user_limit" else CLOSE_TRY_AGAIN_LATER
            return await self._refuse(code, reason)
        STATE.connections[self.connection_id] = self
        self.tracked = True
        await self.accept()
        self.accepted = True
        self._start_writer()
        ensure_heartbeat()
        ensure_access_sweep()
        logger.info("ws_connected", connection_id=self.connection_id, user_id=self.user_id, path=self.scope["path"])
        await self.on_open()

    async def on_open(self) -> None:
        """Hook for subclasses: the first frames after accept."""

    async def _track_and_join(self) -> str | None:
        """1. record the connection cluster-wide (per-user cap), 2. join its groups. Bounded."""
        self.in_redis = True
        result = await tracking.connection_track(
            connection_id=self.connection_id, user_id=self.user_id, instance_id=STATE.instance_id
        )
        if result == "unavailable":  # the cap check may have counted it before the bound ran out
            await self._untrack()
            return "redis_unavailable"
        if result != "ok":
            self.in_redis = False
            return result
        try:
            async with asyncio.timeout(settings.REDIS_WRITE_TIMEOUT):
                await ROUTER.join(self.groups_joined, self)
        except (*REDIS_ERRORS, TimeoutError):
            metrics.increment("ws_tracking_failures", what="group_add")
            await self._untrack()
            return "redis_unavailable"
        return None

    async def _untrack(self) -> None:
        if self.in_redis:
            self.in_redis = False
            await tracking.connection_untrack(connection_id=self.connection_id, user_id=self.user_id)

    async def _refuse(self, code: int, reason: str) -> None:
        """Accept, then close with `code`: a refused handshake (403) cannot carry a close code."""
        refused(reason)
        logger.info("ws_refused", reason=reason, code=code, path=self.scope["path"])
        self.closing = True  # frames the client still sends are dropped and counted
        await self.accept()
        await self._close_once(code)

    async def disconnect(self, code: int) -> None:
        await self._close_out(code=code)

    async def _close_out(self, *, code: int) -> None:
        """Undo whatever the handshake did (slot, router, tracking), once, whichever step it reached."""
        self._release_slot()
        if not self.tracked:
            await self._untrack()  # the handshake stopped between tracking and accept
            return
        self.tracked = False
        self.closing = True
        self._discard_queue("closed")
        STATE.connections.pop(self.connection_id, None)
        if self.writer is not None:
            self.writer.cancel()
        ROUTER.leave(self.groups_joined, self)
        await self._untrack()
        logger.info(
            "ws_disconnected",
            connection_id=self.connection_id,
            user_id=self.user_id,
            code=code,
            frames_after_close=self.frames_after_close,
        )

    def _release_slot(self) -> None:
        if self.reserved:
            self.reserved = False
            STATE.release(self.user_id)

    # --- Outbound: a bounded queue per connection -----------------------------

    def realtime_event(self, message: dict[str, Any]) -> None:
        """A published event, from the router; never awaits the client, so a slow reader cannot stall delivery."""
        if message.get("type") == ACCESS_MESSAGE_TYPE:  # in-memory frames (the snapshot) carry no type
            return self.access_changed(ended_session=message.get("ended_session"))
        if self.seen is None:
            self.seen = deque(maxlen=SEEN_KEYS)
        elif message["key"] in self.seen:
            return
        self.seen.append(message["key"])
        self.push(message["text"])

    def push(self, text: str) -> None:
        if self.closing:
            metrics.increment("ws_messages_dropped", reason="closing")
            return
        if self.queue is None:
            self.queue = deque()
        elif len(self.queue) >= settings.WS_OUTBOUND_QUEUE_SIZE:
            metrics.increment("ws_messages_dropped", reason="queue_full")
            if self.accepted:  # before accept, a close would answer the handshake with a 403
                self._drop_slow_client()
            return
        self.queue.append(text)
        self._start_writer()

    def _start_writer(self) -> None:
        if self.accepted and self.queue and (self.writer is None or self.writer.done()):
            self.writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        """Drain the queue; a send blocked past WS_SEND_TIMEOUT means the client stopped reading."""
        while self.queue and not self.closing:
            text = self.queue.popleft()
            try:
                async with asyncio.timeout(settings.WS_SEND_TIMEOUT):
                    await self.send(text_data=text)
            except TimeoutError:
                metrics.increment("ws_messages_dropped", reason="send_timeout")
                self._drop_slow_client()
                return
            except OSError:  # the client is gone (uvicorn's ClientDisconnected); its disconnect cleans up
                return
            metrics.increment("ws_messages_sent")
        if not self.queue:
            self.queue = None  # an idle socket gives its buffer back

    def _drop_slow_client(self) -> None:
        if self.closing:
            return
        self.closing = True
        self._discard_queue("slow_client")
        metrics.increment("ws_slow_clients_dropped")
        logger.warning("ws_slow_client_dropped", connection_id=self.connection_id, user_id=self.user_id)
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()
        self._close_soon(CLOSE_TRY_AGAIN_LATER)

    def _discard_queue(self, reason: str) -> None:
        if self.queue:
            metrics.increment("ws_messages_dropped", len(self.queue), reason=reason)
            self.queue.clear()

    def _close_soon(self, code: int) -> None:
        """Close in a task: the server bounds the close handshake, and the dispatch loop keeps going."""
        if not self.close_sent:
            self.closer = asyncio.ensure_future(self._close_once(code))

    async def _close_once(self, code: int) -> None:
        """Send the close frame once: a second one makes the server raise, and a task would log its traceback."""
        if self.close_sent:
            return
        self.close_sent = True
        with contextlib.suppress(OSError):  # uvicorn's ClientDisconnected: the client left first
            await self.close(code=code)

    async def close_for_drain(self) -> None:
        """Graceful drain: 1001 to the client, within the drain's bound."""
        self.closing = True
        self._discard_queue("drain")
        if self.writer is not None:
            self.writer.cancel()
        await self._close_once(CLOSE_GOING_AWAY)

    # --- Access: revoked in the admin, by logout or a new password -----------

    def access_changed(self, *, ended_session: str | None = None) -> None:
        """The user's access may have changed: check it again in a task (the router's reader never waits on the DB)."""
        if self.closing:
            return
        if ended_session is not None and ended_session == self.session_key:
            return self.revoke(CLOSE_UNAUTHENTICATED, "logged_out")
        self.recheck_again = True
        if self.rechecking is None or self.rechecking.done():
            self.rechecking = asyncio.ensure_future(self._recheck())

    async def _recheck(self) -> None:
        """Read the session's user again (one hop, two queries), then close or follow the user's groups."""
        while self.recheck_again and not self.closing:
            self.recheck_again = False
            session_key = self.session_key or ""  # no session: signs no one in
            user = (await database_sync_to_async(realtime_signed_in_users)([session_key])).get(session_key)
            if self.closing:  # closed while the database answered
                return
            if self.access_seen(user):
                await self._follow_groups([user_group(self.user_id), *await self.role_groups(user)])

    def access_seen(self, user: Any) -> bool:
        """Close unless `user` (None: the session signs no one in) may still hold this socket; whether it may."""
        if user is None or user.pk != self.user_id:
            self.revoke(CLOSE_UNAUTHENTICATED, "signed_out")
            return False
        if not self.allowed(user):
            self.revoke(CLOSE_FORBIDDEN, "forbidden")
            return False
        return True

    def revoke(self, code: int, reason: str) -> None:
        """Stop sending at once and close with `code`."""
        if self.closing:
            return
        self.closing = True
        self._discard_queue("revoked")
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()
        metrics.increment("ws_access_revoked", reason=reason)
        logger.info("ws_access_revoked", connection_id=self.connection_id, user_id=self.user_id, reason=reason)
        self._close_soon(code)

    async def _follow_groups(self, wanted: list[str]) -> None:
        """Leave the groups the user may no longer view, join the newly allowed ones (bounded, like the handshake)."""
        leaving = [group for group in self.groups_joined if group not in wanted]
        joining = [group for group in wanted if group not in self.groups_joined]
        if leaving:
            ROUTER.leave(leaving, self)
            self.groups_joined = [group for group in self.groups_joined if group not in leaving]
        if joining and not await self._join_more(joining):
            joining = []
        if leaving or joining:
            logger.info("ws_groups_changed", connection_id=self.connection_id, left=leaving, joined=joining)

    async def _join_more(self, groups: list[str]) -> bool:
        try:
            async with asyncio.timeout(settings.REDIS_WRITE_TIMEOUT):
                await ROUTER.join(groups, self)
        except (*REDIS_ERRORS, TimeoutError):
            metrics.increment("ws_tracking_failures", what="group_add")  # the next access change tries again
            return False
        if not self.tracked:  # closed while joining: _close_out left only the groups it knew
            ROUTER.leave(groups, self)
            return False
        self.groups_joined = [*self.groups_joined, *groups]
        return True

    # --- Inbound: small, rate-limited, well-formed frames only ----------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            # The server reads until the client answers our close (or its close timeout):
            # a flood after a 1008 must cost a counter, not a log line or a close per frame.
            self.frames_after_close += 1
            return frame_after_close()
        if bytes_data is not None or text_data is None:
            return self._protocol_error("binary_not_supported", "Frames must be JSON text.", 1003)
        if len(text_data.encode()) > settings.WS_MAX_MESSAGE_BYTES:
            return self._protocol_error("message_too_large", "Frame exceeds the size limit.", 1009)
        if not self._within_rate():
            return self._protocol_error("rate_limited", "Too many frames.", CLOSE_POLICY)
        try:
            frame = json.loads(text_data)
        except ValueError:
            return self._protocol_error("malformed_json", "Frame is not valid JSON.", 1007)
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "ping":
            return self.push(json.dumps({"type": "pong"}))
        return self._protocol_error("unknown_type", "Unknown frame type.", CLOSE_POLICY)

    def _within_rate(self) -> bool:
        count, seconds = _inbound_rate()
        now = time.monotonic()
        if now - self.window_start >= seconds:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        return self.window_count <= count

    def _protocol_error(self, code: str, message: str, close_code: int) -> None:
        self.errors += 1
        metrics.increment("ws_protocol_errors", code=code)
        if self.errors > settings.WS_MAX_PROTOCOL_ERRORS:
            logger.info("ws_closed_for_errors", connection_id=self.connection_id, code=code, close_code=close_code)
            self.closing = True
            self._close_soon(close_code)
            return
        self.push(json.dumps({"type": "error", "error": {"code": code, "message": message}}))


class OpsConsumer(EventsConsumer):
    """/ws/ops/: staff only; live numbers for the console, and the ops events of the models the user may view.

    Frames: "ops.snapshot" (realtime counts, each heartbeat), "ops.overview" (the console's
    overview, at most every CONSOLE_LIVE_INTERVAL: apps/console/live.py), and ops events.

    Staff without any such permission get the numbers only. Permissions are read at
    the handshake and again whenever the user's access changes (access_changed).
    """

    def allowed(self, user: Any) -> bool:
        return user.is_staff

    async def role_groups(self, user: Any) -> list[str]:
        # One hop to the ORM's thread per /ws/ops/ handshake (dispatch skips it for frames).
        return await database_sync_to_async(ops_groups_for_user)(user)

    async def on_open(self) -> None:
        self.push(ops_snapshot_text())
        ensure_overview_feed()  # the console's "ops.overview" frames, one per interval for every local socket


def _inbound_rate() -> tuple[int, int]:
    return parse_rate(settings.WS_INBOUND_RATE, name="WS_INBOUND_RATE")
