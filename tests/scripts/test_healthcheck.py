"""The image's HEALTHCHECK (scripts/healthcheck.py): 200 on /health is healthy; anything else, or silence, is not."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from scripts.healthcheck import healthy


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Host")))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    _Answer.status, _Answer.seen = 200, []


def test_a_200_on_health_is_healthy(server):
    assert healthy(server.server_address[1]) is True
    assert [path for path, _ in _Answer.seen] == ["/health"]


def test_an_error_status_is_unhealthy(server):
    _Answer.status = 500
    assert healthy(server.server_address[1]) is False


def test_a_closed_port_is_unhealthy():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert healthy(port, timeout=1.0) is False
