"""The instance's life: heartbeat (tracking keys, cached cluster counts, /ws/ops/ snapshots), the access sweep,
and drain on SIGTERM.

The access sweep, every WS_ACCESS_RECHECK_INTERVAL, reads who each open socket's
session still signs in, for all of the instance's sockets at once (one hop to the
ORM's thread, two queries: not one per socket), and closes the sockets whose user
signed out or is no longer allowed. It catches what the model signals do not see
(raw SQL, expired sessions); permission changes it leaves to those signals.

Drain order, numbered because it matters:
1. mark the instance draining: /ready answers 503, new handshakes are refused (1013);
2. close every open socket with 1001, waiting at most WS_DRAIN_TIMEOUT;
3. delete this instance's tracking keys;
4. hand SIGTERM to the server's own handler (uvicorn then stops).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from apps.realtime import tracking
from apps.realtime.router import ROUTER
from apps.realtime.state import STATE

logger = structlog.get_logger(__name__)

_heartbeat: asyncio.Task[None] | None = None
_drain: asyncio.Task[None] | None = None
_sweep: asyncio.Task[None] | None = None


def ensure_heartbeat() -> None:
    """Start this process's heartbeat on the running loop, once."""
    global _heartbeat
    if _heartbeat is None or _heartbeat.done():
        _heartbeat = asyncio.ensure_future(_beat_forever())


async def _beat_forever() -> None:
    while not STATE.draining:
        started = time.monotonic()
        try:
            await _beat()
        except Exception:  # a heartbeat that stops would let this instance's tracking expire
            logger.exception("ws_heartbeat_failed")
        await asyncio.sleep(max(0.0, settings.WS_HEARTBEAT_INTERVAL - (time.monotonic() - started)))


async def _beat() -> None:
    """1. renew tracking keys, 2. read the cluster's counts, 3. push them to /ws/ops/, 4. start tidying the router."""
    from apps.realtime.selectors import cluster_summary
    from apps.realtime.services import ops_snapshot_push_local

    await tracking.instance_heartbeat(STATE)
    instances = await tracking.cluster_read()
    if instances is not None:
        STATE.cluster_cache = {"at": time.monotonic(), "summary": cluster_summary(instances)}
    ops_snapshot_push_local()
    ROUTER.tidy_soon(refresh=settings.WS_CHANNEL_LAYER == "core")


def ensure_access_sweep() -> None:
    """Start this process's access sweep on the running loop, once."""
    global _sweep
    if _sweep is None or _sweep.done():
        _sweep = asyncio.ensure_future(_sweep_forever())


async def _sweep_forever() -> None:
    while not STATE.draining:
        await asyncio.sleep(settings.WS_ACCESS_RECHECK_INTERVAL)
        try:
            await access_sweep()
        except Exception:  # a sweep that stops would leave revoked sockets open until they disconnect
            logger.exception("ws_access_sweep_failed")


async def access_sweep() -> None:
    """Close the open sockets whose session no longer signs in a user allowed on their endpoint."""
    from apps.realtime.selectors import realtime_signed_in_users

    consumers = list(STATE.connections.values())
    if not consumers:
        return
    keys = {consumer.session_key for consumer in consumers if consumer.session_key is not None}
    users = await database_sync_to_async(realtime_signed_in_users)(keys)
    for consumer in consumers:
        consumer.access_seen(users.get(consumer.session_key or ""))


async def drain() -> None:
    STATE.draining = True  # 1.
    consumers = list(STATE.connections.values())
    logger.info("ws_drain_started", connections=len(consumers), timeout_s=settings.WS_DRAIN_TIMEOUT)
    if consumers:  # 2.
        tasks = [asyncio.ensure_future(c.close_for_drain()) for c in consumers]
        _, pending = await asyncio.wait(tasks, timeout=settings.WS_DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
    await _stop_heartbeat()  # a beat in flight would write the instance's keys again after 3.
    await tracking.instance_remove(STATE)  # 3.
    logger.info("ws_drain_finished", connections_left=len(STATE.connections))


async def _stop_heartbeat() -> None:
    if _heartbeat is not None and not _heartbeat.done():
        _heartbeat.cancel()
        await asyncio.wait([_heartbeat])


def install_sigterm_drain(loop: asyncio.AbstractEventLoop) -> None:
    """Put the drain in front of the server's SIGTERM handler (uvicorn installs its own before lifespan)."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        global _drain
        if _drain is not None:
            return
        loop.call_soon_threadsafe(_start_drain, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def _start_drain(previous: Callable[..., Any] | int | None, signum: int, frame: Any) -> None:
    global _drain

    async def run() -> None:
        try:
            await drain()
        finally:
            if callable(previous):  # 4.
                previous(signum, frame)

    _drain = asyncio.ensure_future(run())


async def lifespan(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """ASGI lifespan: install the drain at startup; drain at shutdown if no signal did."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            install_sigterm_drain(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _drain is None and STATE.connections:
                await drain()
            await send({"type": "lifespan.shutdown.complete"})
            return
