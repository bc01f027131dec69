"""Probes answer whatever Host a kubelet or load balancer names; every other request keeps Django's host check."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.health.middleware import ProbeMiddleware
from lib import metrics
from tests.support.servers import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)

POD_ADDRESS = "10.1.2.3:8000"  # what kubelet and a cloud load balancer's target check name as Host


def test_liveness_answers_a_probe_naming_the_pods_address(client):
    response = client.get("/health", HTTP_HOST=POD_ADDRESS)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_answers_a_probe_naming_the_pods_address(client):
    response = client.get("/ready", HTTP_HOST=POD_ADDRESS)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readiness_still_answers_503_to_that_probe_while_the_instance_drains(client, monkeypatch):
    from apps.realtime.state import STATE

    monkeypatch.setattr(STATE, "draining", True)

    response = client.get("/ready", HTTP_HOST=POD_ADDRESS)

    assert response.status_code == 503
    assert response.json()["failing"] == ["draining"]


@pytest.mark.parametrize("path", ["/ops/instance", "/admin/login/", "/health/", "/healthz", "/"])
def test_any_other_path_naming_that_host_is_refused(client, path):
    assert client.get(path, HTTP_HOST=POD_ADDRESS).status_code == 400


def test_another_method_on_a_probe_path_naming_that_host_is_refused(client):
    assert client.post("/health", HTTP_HOST=POD_ADDRESS).status_code == 400


def test_a_probe_naming_the_pods_address_keeps_the_security_headers(client):
    response = client.get("/health", HTTP_HOST=POD_ADDRESS)

    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response


def test_a_probe_naming_the_pods_address_is_counted_as_answered(client):
    before = metrics.counter_value("http_requests", status="2xx")

    client.get("/health", HTTP_HOST=POD_ADDRESS)

    assert metrics.counter_value("http_requests", status="2xx") == before + 1


def test_plain_http_probes_are_not_redirected_to_https_while_other_paths_are(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    health = client.get("/health", HTTP_HOST=POD_ADDRESS)
    ready = client.get("/ready", HTTP_HOST=POD_ADDRESS)
    console = client.get("/ops/")

    assert (health.status_code, ready.status_code) == (200, 200)
    assert console.status_code == 301
    assert console["Location"].startswith("https://")


def test_in_an_async_stack_a_probe_goes_to_its_view_and_anything_else_down_the_stack():
    passed_down: list[str] = []

    async def stack(request: HttpRequest) -> HttpResponse:
        passed_down.append(request.path)
        return HttpResponse("stack")

    middleware = async_to_sync(ProbeMiddleware(stack))
    probe = middleware(RequestFactory().get("/health", HTTP_HOST=POD_ADDRESS))
    other = middleware(RequestFactory().get("/ops/", HTTP_HOST=POD_ADDRESS))

    assert json.loads(probe.content) == {"status": "ok"}
    assert other.content == b"stack"
    assert passed_down == ["/ops/"]


def _status_without_host(base: str, path: str) -> bytes:
    """The status line of an HTTP/1.0 GET naming no Host at all, as HAProxy's `http-check send` sends it."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return conn.makefile("rb").readline().strip()


@pytest.mark.slow
def test_through_the_server_probes_answer_any_host_over_plain_http_and_the_console_does_not():
    with asgi_server(SECURE_SSL_REDIRECT="1") as base:
        health = requests.get(f"{base}/health", headers={"Host": POD_ADDRESS}, timeout=5, allow_redirects=False)
        ready = requests.get(f"{base}/ready", headers={"Host": POD_ADDRESS}, timeout=5, allow_redirects=False)
        no_host = _status_without_host(base, "/ready")
        foreign = requests.get(f"{base}/ops/", headers={"Host": POD_ADDRESS}, timeout=5, allow_redirects=False)
        console = requests.get(f"{base}/ops/", timeout=5, allow_redirects=False)

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()["failing"]) == (200, [])
    assert no_host == b"HTTP/1.1 200 OK"
    assert foreign.status_code == 400
    assert console.status_code == 301
