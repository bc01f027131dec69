"""The overview, live: one frame per web process every CONSOLE_LIVE_INTERVAL, handed to its /ws/ops/ sockets.

The frame is built once per interval per process, however many sockets are open,
from console_overview() (itself a short shared cache: one computation per
cluster), and handed over in memory through the realtime router: no Redis call
and no query per socket. It carries the data and the page's regions rendered by
the same templates as the page, so the page swaps them in. The loop runs only
while this process has /ws/ops/ sockets; the first one to open starts it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import structlog
from django.conf import settings
from django.template.loader import render_to_string

from apps.console.presenters import tile_levels
from apps.realtime.router import ROUTER
from apps.realtime.services import OPS_SNAPSHOT_GROUP
from apps.realtime.state import STATE
from apps.telemetry import selectors as telemetry
from apps.telemetry.aggregate import overview_series
from lib.db import db_connection_release

logger = structlog.get_logger(__name__)

MESSAGE_TYPE = "ops.overview"
# The page's regions a frame replaces, and their templates.
REGIONS = {
    "banner": "console/_banner.html",
    "summary": "console/_summary.html",
    "tiles": "console/_tiles.html",
}

_feed: asyncio.Task[None] | None = None


def overview_frame() -> dict[str, Any]:
    """{"type": "ops.overview", "data": overview, "series": {name: value}, "html": {region: markup}}.

    `series` is the overview's numbers as the sampler stores them (overview_series): each sparkline's
    next point, under the name its history has. Reads the telemetry (cached).
    """
    overview = telemetry.console_overview()
    context = {"overview": overview, "levels": tile_levels(overview)}
    return {
        "type": MESSAGE_TYPE,
        "data": overview,
        "series": overview_series(overview),
        "html": {region: render_to_string(name, context) for region, name in REGIONS.items()},
    }


def overview_frame_text() -> str:
    """The frame as sent; gives the thread's pooled connection back (it runs on a worker thread)."""
    try:
        return json.dumps(overview_frame(), default=str)
    finally:
        db_connection_release()


def ensure_overview_feed() -> None:
    """Start this process's feed on the running loop, once (called when a /ws/ops/ socket opens)."""
    global _feed
    if _feed is None or _feed.done():
        _feed = asyncio.ensure_future(_feed_forever())


async def _feed_forever() -> None:
    while OPS_SNAPSHOT_GROUP in ROUTER.members and not STATE.draining:
        started = time.monotonic()
        try:
            text = await asyncio.to_thread(overview_frame_text)
        except Exception:  # a feed that dies leaves every open console frozen
            logger.exception("console_feed_failed")
        else:
            ROUTER.deliver({"group": OPS_SNAPSHOT_GROUP, "key": uuid.uuid4().hex, "text": text})
        await asyncio.sleep(max(0.0, settings.CONSOLE_LIVE_INTERVAL - (time.monotonic() - started)))
