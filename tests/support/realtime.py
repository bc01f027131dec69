"""Real uvicorn processes and real `websockets` clients for the realtime tests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket as socketlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lib.redis import get_client
from tests.factories import StaffUserFactory
from tests.support.processes import Process, free_port
from tests.support.servers import log_file, uvicorn, wait_until_serving

# Short enough that a crashed instance leaves the counts within a test's patience.
TEST_HEARTBEAT = "0.3"
TEST_TTL = "1.5"


@pytest.fixture
def realtime_namespace(settings: Any) -> dict[str, str]:
    """This test's Redis namespaces, for its servers and for publish_event / the selector in this process."""
    names = namespace()
    settings.WS_KEY_PREFIX = names["WS_KEY_PREFIX"]
    settings.WS_TRACKING_TTL = 1.5
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": names["CHANNEL_LAYER_PREFIX"]},
        }
    }
    return names


def namespace() -> dict[str, str]:
    """Redis namespaces of one test: concurrent test runs share one Redis."""
    tag = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return {"WS_KEY_PREFIX": f"{tag}:ws", "CHANNEL_LAYER_PREFIX": f"{tag}:asgi"}


@dataclass
class Server:
    port: int
    process: Process
    # A staff session for /ops/instance, made on first use (see health()).
    staff_cookie: str | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.http

    def ws(self, path: str = "/ws/events/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


@contextmanager
def realtime_server(log_path: Path | None = None, flags: tuple[str, ...] = (), **env: str) -> Iterator[Server]:
    """uvicorn as production runs it (see docs/realtime.md), with the test's namespaces; `flags` override.

    Killed (SIGKILL) after the block, unless the test has stopped it.
    """
    port = free_port()
    defaults = {
        "WS_HEARTBEAT_INTERVAL": TEST_HEARTBEAT,
        "WS_TRACKING_TTL": TEST_TTL,
        "WS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",  # the origin open_socket sends
    }
    with log_file(log_path, "uvicorn.log") as path:
        server = Server(port, uvicorn(path, port=port, flags=flags, **{**defaults, **env}))
        try:
            wait_until_serving(server.process, server.http)
            yield server
        finally:
            server.process.kill()


def session_cookie(user: Any) -> str:
    """Log `user` in the way a browser would end up: a session row and its cookie."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def open_socket(
    server: Server,
    cookie: str | None,
    *,
    path: str = "/ws/events/",
    origin: str | None = "same",
    open_timeout: float = 10,
    **kwargs: Any,
) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else {}
    return await connect(
        server.ws(path),
        origin=server.origin if origin == "same" else origin,
        additional_headers=headers,
        open_timeout=open_timeout,
        **kwargs,
    )


async def close_code_of(socket: ClientConnection, timeout: float = 5) -> int | None:
    """Read until the server closes; its close code, or None if it is still open after `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


async def next_event(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        return json.loads(await socket.recv())


# What /ws/ops/ sends on its own every few seconds, whatever happens.
PERIODIC_FRAMES = frozenset({"ops.snapshot", "ops.overview"})


async def heard_next(socket: ClientConnection, event_type: str, within: float = 1.5) -> bool:
    """Whether `socket` receives `event_type` next within `within` s (the periodic frames skipped)."""
    try:
        async with asyncio.timeout(within):
            while True:
                event = await next_event(socket)
                if event["type"] not in PERIODIC_FRAMES:
                    return event["type"] == event_type
    except TimeoutError:
        return False


async def is_silent(socket: ClientConnection, seconds: float = 0.5) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await socket.recv()
    except TimeoutError:
        return True
    return False


def never_reading_client(server: Server, cookie: str, *, wait_for_answer: bool = True) -> socketlib.socket:
    """A raw client that sends the handshake and then never reads (or answers pings) again."""
    raw = socketlib.socket()
    raw.setsockopt(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 32_768)
    raw.connect(("127.0.0.1", server.port))
    raw.sendall(
        (
            "GET /ws/events/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {server.origin}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    if wait_for_answer:
        response = b""
        while b"\r\n\r\n" not in response:
            response += raw.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response
    return raw


def health(server: Server) -> dict[str, Any]:
    """This instance's realtime numbers, from the staff-only /ops/instance."""
    if server.staff_cookie is None:
        server.staff_cookie = session_cookie(StaffUserFactory())
    response = requests.get(f"{server.http}/ops/instance", headers={"Cookie": server.staff_cookie}, timeout=2)
    return response.json()["realtime"]["instance"]


def tracking_keys(prefix: str) -> list[bytes]:
    """Per-connection tracking keys in Redis: `connection` and `user` (instance keys live as long as the server)."""
    keys = get_client("read").scan_iter(match=f"{prefix}:*", count=1000)
    return [key for key in keys if b":connection:" in key or b":user:" in key]


def masked_text_frame(text: str) -> bytes:
    """One client-to-server text frame (FIN, opcode 1, masked as clients must), payload under 126 bytes."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
