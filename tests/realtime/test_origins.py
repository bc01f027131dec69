"""The WebSocket handshake's Origin must be one of WS_ALLOWED_ORIGINS: scheme, host and port."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import InvalidStatus

from tests.factories import UserFactory
from tests.support.realtime import health, next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120), pytest.mark.slow]


@pytest.fixture
def server(realtime_namespace):
    with realtime_server(**realtime_namespace) as running:
        yield running


def _handshake_status(server, origin: str | None) -> int:
    """101 when the socket opened (and answered a ping), else the HTTP status it was refused with."""
    cookie = session_cookie(UserFactory())

    async def scenario() -> int:
        try:
            socket = await open_socket(server, cookie, origin=origin)
        except InvalidStatus as refused:
            return refused.response.status_code
        async with socket:
            await socket.send('{"type": "ping"}')
            assert (await next_event(socket))["type"] == "pong"
        return 101

    return asyncio.run(scenario())


def test_the_exact_configured_origin_is_accepted(server):
    assert _handshake_status(server, f"http://127.0.0.1:{server.port}") == 101


def test_the_same_host_on_another_port_is_refused(server):
    assert _handshake_status(server, f"http://127.0.0.1:{server.port + 1}") == 403


def test_the_same_host_and_port_under_another_scheme_is_refused(server):
    assert _handshake_status(server, f"https://127.0.0.1:{server.port}") == 403


def test_another_host_name_for_the_same_address_is_refused(server):
    assert _handshake_status(server, f"http://localhost:{server.port}") == 403


@pytest.mark.parametrize("origin", [None, "null"])
def test_a_missing_or_opaque_origin_is_refused(server, origin):
    assert _handshake_status(server, origin) == 403


def test_a_refused_origin_is_counted(server):
    _handshake_status(server, f"http://127.0.0.1:{server.port + 1}")

    assert health(server)["refused"].get("ws_refused{reason=origin}") == 1


@pytest.mark.parametrize("origin", ["https://ops.example.com:443", "HTTPS://OPS.example.com"])
def test_default_ports_and_case_do_not_change_an_origin(realtime_namespace, origin):
    with realtime_server(WS_ALLOWED_ORIGINS="https://ops.example.com", **realtime_namespace) as server:
        assert _handshake_status(server, origin) == 101
