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

from apps.core import metrics

logger = structlog.get_logger(__name__)

# Pause after the layer's receive fails (Redis down, core layer), before trying again.
READ_RETRY_SECONDS = 1.0


class Receiver(Protocol):
    def realtime_event(self, message: dict[str, Any]) -> None: ...


class GroupRouter:
    def __init__(self) -> None:
        self.members: dict[str, set[Receiver]] = {}
        self.channel_name: str | None = None
        self._opening: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def join(self, groups: list[str], receiver: Receiver) -> None:
        """Deliver each group's events to `receiver`. Talks to Redis (callers bound it); on failure joins none."""
        try:
            channel = await self._channel()
            layer = get_channel_layer()
            for group in groups:
                self.members.setdefault(group, set()).add(receiver)
                await layer.group_add(group, channel)
        except BaseException:
            self._forget(groups, receiver)
            raise

    async def leave(self, groups: list[str], receiver: Receiver) -> None:
        """Stop delivering to `receiver` at once; groups left without local members are discarded on the layer (Redis)."""
        emptied = self._forget(groups, receiver)
        layer = get_channel_layer()
        for group in emptied:
            await layer.group_discard(group, self.channel_name)

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
        return emptied if self.channel_name is not None else []

    async def _channel(self) -> str:
        """This process's layer channel and its reader, created once; concurrent first joins share the creation."""
        if self.channel_name is None:
            if self._opening is None or (self._opening.done() and self._opening.exception() is not None):
                self._opening = asyncio.ensure_future(self._open())
            await asyncio.shield(self._opening)
        return self.channel_name

    async def _open(self) -> None:
        channel = await get_channel_layer().new_channel(prefix="realtime.")
        self._reader = asyncio.ensure_future(self._read(channel))
        self.channel_name = channel

    async def _read(self, channel: str) -> None:
        layer = get_channel_layer()
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
        for receiver in tuple(self.members.get(message.get("group", ""), ())):
            receiver.realtime_event(message)


ROUTER = GroupRouter()
