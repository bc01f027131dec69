"""This process's WebSocket connections, kept in memory: the source of truth for its own caps.

The event loop is single-threaded, so reserve/release need no lock: a slot is
taken synchronously before the handshake's first await, and two handshakes can
never both take the last one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from lib import metrics


class TrackedConsumer(Protocol):
    connection_id: str
    user_id: int
    session_key: str | None

    async def close_for_drain(self) -> None: ...

    def access_seen(self, user: Any) -> bool: ...


@dataclass
class InstanceState:
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    connections: dict[str, TrackedConsumer] = field(default_factory=dict)
    reserved: int = 0
    per_user: Counter[int] = field(default_factory=Counter)
    draining: bool = False
    # The cluster's numbers as the last heartbeat read them (monotonic time, dict).
    cluster_cache: dict[str, Any] | None = None

    def reserve(self, user_id: int) -> str | None:
        """Take a slot for `user_id`; the refusal reason when there is none."""
        if self.draining:
            return "draining"
        if self.reserved >= settings.WS_MAX_CONNECTIONS_PER_INSTANCE:
            return "instance_limit"
        if self.per_user[user_id] >= settings.WS_MAX_CONNECTIONS_PER_USER:
            return "user_limit"
        self.reserved += 1
        self.per_user[user_id] += 1
        return None

    def release(self, user_id: int) -> None:
        self.reserved -= 1
        self.per_user[user_id] -= 1
        if self.per_user[user_id] <= 0:
            del self.per_user[user_id]

    def top_users(self, limit: int = 10) -> list[tuple[int, int]]:
        return self.per_user.most_common(limit)


STATE = InstanceState()


def refused(reason: str) -> None:
    metrics.increment("ws_refused", reason=reason)


def frame_after_close() -> None:
    """A client frame that arrived after the server started closing its socket: dropped, counted only."""
    metrics.increment("ws_frames_after_close")
