"""One channel-layer channel per process, fanning events out to this process's sockets.

Channels' default gives every socket a layer channel of its own: a Redis
subscription, an asyncio.Queue and two tasks per connection, about a fifth of an
idle socket's memory (docs/BENCHMARKS.md). Here the process holds one channel and
a dict of group -> local sockets. A socket joins its groups in memory; the
process's channel is added to a group on the layer at every join (idempotent, and
free once the pub/sub layer is subscribed) and discarded when the group's last
local socket leaves. An event costs one dict lookup and one non-blocking push per
socket of its group: O(1) in the number of other sockets.

Messages name the group they were sent to (`publish_event` adds it), since one
channel receives every group's messages.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from channels.layers import get_channel_layer
from django.conf import settings

from lib import metrics
from lib.redis import REDIS_ERRORS

logger = structlog.get_logger(__name__)

# Pause after the layer's receive fails (Redis down, core layer), before trying again.
READ_RETRY_SECONDS = 1.0


class Receiver(Protocol):
    def realtime_event(self, message: dict[str, Any]) -> None: ...


class GroupRouter:
    """Local membership is the truth; the layer follows it.

    Every layer call that adds or discards the process's channel holds one lock
    and re-checks local membership first, so a join and a leave of the same group
    cannot leave a live socket unsubscribed. The lock is held for one group at a
    time, never across a whole pass. Discards run in one background pass (a
    caller's timeout cannot skip them); a pass stops at the first Redis failure
    and the next heartbeat starts another.
    """

    def __init__(self) -> None:
        self.members: dict[str, set[Receiver]] = {}
        # Groups whose last local member left and that the layer may still deliver here.
        self.to_discard: set[str] = set()
        self.channel_name: str | None = None
        self._lock: asyncio.Lock | None = None
        self._opening: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tidying: asyncio.Task[None] | None = None

    async def join(self, groups: list[str], receiver: Receiver) -> None:
        """Deliver each group's events to `receiver`. Talks to Redis (callers bound it); on failure joins none."""
        try:
            channel = await self._channel()
            for group in groups:
                self.members.setdefault(group, set()).add(receiver)
            async with self._membership_lock():
                layer = get_channel_layer()
                assert layer is not None  # settings.CHANNEL_LAYERS always names one
                for group in groups:
                    await layer.group_add(group, channel)
        except BaseException:
            self.leave(groups, receiver)
            raise

    def leave(self, groups: list[str], receiver: Receiver) -> None:
        """Stop delivering to `receiver` now; groups left without local members are discarded in the background."""
        emptied = self._forget(groups, receiver)
        if emptied and self.channel_name is not None:
            self.to_discard.update(emptied)
            self.tidy_soon()

    def tidy_soon(self, *, refresh: bool = False) -> None:
        """Start a background pass unless one is running: discard emptied groups; with `refresh`, re-add the rest.

        The heartbeat calls it with refresh=True for the core layer, which keeps
        membership in Redis keys that a Redis restart loses (pub/sub resubscribes).
        """
        if self._tidying is None or self._tidying.done():
            self._tidying = asyncio.ensure_future(self._tidy(refresh=refresh))

    async def tidied(self) -> None:
        """Wait for the running background pass, if any."""
        while self._tidying is not None and not self._tidying.done():
            await asyncio.wait([self._tidying])

    async def _tidy(self, *, refresh: bool) -> None:
        layer = get_channel_layer()
        try:
            while self.to_discard:
                for group in list(self.to_discard):
                    await self._discard(layer, group)
            if refresh:
                for group in list(self.members):
                    await self._re_add(layer, group)
        except (*REDIS_ERRORS, TimeoutError) as exc:
            logger.warning("realtime_groups_tidy_failed", error_class=type(exc).__name__)
            metrics.increment("ws_tracking_failures", what="group_tidy")

    async def _discard(self, layer: Any, group: str) -> None:
        async with self._membership_lock(), asyncio.timeout(settings.REDIS_WRITE_TIMEOUT):
            if group not in self.members:
                # group_add first: the pub/sub layer forgets a group locally before its
                # UNSUBSCRIBE, so retrying a discard that failed would otherwise do nothing.
                await layer.group_add(group, self.channel_name)
                await layer.group_discard(group, self.channel_name)
            self.to_discard.discard(group)

    async def _re_add(self, layer: Any, group: str) -> None:
        async with self._membership_lock(), asyncio.timeout(settings.REDIS_WRITE_TIMEOUT):
            if group in self.members:
                await layer.group_add(group, self.channel_name)

    def _forget(self, groups: list[str], receiver: Receiver) -> list[str]:
        """Drop `receiver` from the groups in memory; the groups this left without local members."""
        emptied = []
        for group in groups:
            members = self.members.get(group)
            if members is None or receiver not in members:
                continue
            members.discard(receiver)
            if not members:
                del self.members[group]
                emptied.append(group)
        return emptied

    def _membership_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _channel(self) -> str:
        """This process's layer channel and its reader, created once; concurrent first joins share the creation."""
        if self.channel_name is None:
            if self._opening is None or (self._opening.done() and self._opening.exception() is not None):
                self._opening = asyncio.ensure_future(self._open())
            await asyncio.shield(self._opening)
        assert self.channel_name is not None  # _open() set it, or raised
        return self.channel_name

    async def _open(self) -> None:
        layer = get_channel_layer()
        assert layer is not None  # settings.CHANNEL_LAYERS always names one
        # channels_redis's layers take a prefix; the stub's BaseChannelLayer does not.
        channel = await layer.new_channel(prefix="realtime.")  # type: ignore[call-arg]
        self._reader = asyncio.ensure_future(self._read(channel))
        self.channel_name = channel

    async def _read(self, channel: str) -> None:
        layer = get_channel_layer()
        assert layer is not None  # settings.CHANNEL_LAYERS always names one
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the core layer raises while Redis is down; the pub/sub layer reconnects itself
                logger.warning("realtime_receive_failed", error_class=type(exc).__name__)
                metrics.increment("ws_tracking_failures", what="receive")
                await asyncio.sleep(READ_RETRY_SECONDS)
                continue
            self.deliver(message)

    def deliver(self, message: dict[str, Any]) -> None:
        """Hand `message` to its group's local sockets. One socket's failure never stops the others, or the reader."""
        group = message.get("group")
        if group is None:
            metrics.increment("ws_messages_dropped", reason="no_group")
            return
        for receiver in tuple(self.members.get(group, ())):
            try:
                receiver.realtime_event(message)
            except Exception:
                logger.exception("realtime_delivery_failed", group=group)
                metrics.increment("ws_messages_dropped", reason="delivery_error")


ROUTER = GroupRouter()
