"""The sandbox provider behaves like a provider: idempotent charges, reads, stats and signed webhooks."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sandbox_provider.signing import SIGNATURE_HEADER, verify
from tests.support.provider import sandbox_provider_process

pytestmark = pytest.mark.slow  # every test runs the provider as a process

CHARGE = {"amount": "12.50", "currency": "EUR", "reference": "order-1"}
TIMEOUT = 5


def _charge(provider, key: str | None = None, **changes) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(f"{provider.url}/v1/charges", json={**CHARGE, **changes}, headers=headers, timeout=TIMEOUT)


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, queue.Queue]]:
    """A local endpoint that answers 200 and queues (headers, raw body) of each POST."""
    received: queue.Queue = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_same_idempotency_key_returns_the_same_charge_and_charges_once(sandbox_provider):
    first = _charge(sandbox_provider, "key-1").json()

    second = _charge(sandbox_provider, "key-1")

    assert second.json()["id"] == first["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert sandbox_provider.charges_for("key-1") == 1
    assert sandbox_provider.stats()["charges_created"] == 1


def test_different_keys_make_different_charges(sandbox_provider):
    _charge(sandbox_provider, "key-1")
    _charge(sandbox_provider, "key-2")

    assert sandbox_provider.stats()["charges_created"] == 2


def test_a_key_reused_for_a_different_charge_is_refused(sandbox_provider):
    _charge(sandbox_provider, "key-1")

    response = _charge(sandbox_provider, "key-1", amount="99.00")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_a_charge_can_be_read_back_for_reconciliation(sandbox_provider):
    charge = _charge(sandbox_provider, "key-1").json()

    response = requests.get(f"{sandbox_provider.url}/v1/charges/{charge['id']}", timeout=TIMEOUT)

    assert response.json() == charge


def test_a_reference_starting_with_fail_is_declined(sandbox_provider):
    charge = _charge(sandbox_provider, "key-1", reference="fail-card").json()

    assert (charge["status"], charge["failure_code"]) == ("failed", "card_declined")


def test_an_invalid_charge_is_a_400_naming_its_fields(sandbox_provider):
    response = _charge(sandbox_provider, "key-1", amount="-1", currency="euro")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"amount", "currency"}
    assert sandbox_provider.stats()["charges_created"] == 0


def test_a_counted_mode_reverts_to_normal(sandbox_provider):
    sandbox_provider.set_mode("error", count=1)

    statuses = [_charge(sandbox_provider, "key-1").status_code for _ in range(2)]

    assert statuses == [500, 200]


def test_a_timed_mode_reverts_to_normal_by_itself(sandbox_provider):
    response = requests.post(
        f"{sandbox_provider.url}/_control/mode", json={"mode": "error", "seconds": 0.3}, timeout=TIMEOUT
    )
    during = _charge(sandbox_provider, "key-1").status_code
    threading.Event().wait(0.6)

    assert response.json()["seconds"] == 0.3
    assert (during, _charge(sandbox_provider, "key-1").status_code) == (500, 200)


def test_an_error_mode_answers_500_without_charging(sandbox_provider):
    sandbox_provider.set_mode("error")

    assert _charge(sandbox_provider, "key-1").status_code == 500
    assert sandbox_provider.stats()["charges_created"] == 0


def test_refuse_mode_resets_the_connection(sandbox_provider):
    sandbox_provider.set_mode("refuse")

    with pytest.raises(requests.ConnectionError):
        _charge(sandbox_provider, "key-1")


def test_reset_forgets_charges_and_returns_to_normal(sandbox_provider):
    _charge(sandbox_provider, "key-1")
    sandbox_provider.set_mode("error")

    sandbox_provider.reset()

    assert sandbox_provider.stats()["charges_created"] == 0
    assert _charge(sandbox_provider, "key-1").status_code == 200


def test_a_requested_webhook_is_signed_with_the_shared_secret(sandbox_provider):
    charge = _charge(sandbox_provider, "key-1").json()
    with webhook_receiver() as (url, received):
        delivery = sandbox_provider.send_webhook(charge["id"], "failed", url=url)
        headers, body = received.get(timeout=TIMEOUT)

    assert delivery["status"] == 200
    assert verify(body, headers[SIGNATURE_HEADER], sandbox_provider.webhook_secret)
    event = json.loads(body)
    assert (event["type"], event["data"]["object"]["id"]) == ("charge.failed", charge["id"])


def test_a_new_charge_sends_a_signed_webhook_when_a_webhook_url_is_given(tmp_path):
    with (
        webhook_receiver() as (url, received),
        sandbox_provider_process(log_path=tmp_path / "log", webhook_secret="s3cret", webhook_url=url) as provider,
    ):
        charge = _charge(provider, "key-1").json()
        headers, body = received.get(timeout=TIMEOUT)

    assert verify(body, headers[SIGNATURE_HEADER], "s3cret")
    assert json.loads(body)["data"]["object"]["id"] == charge["id"]


def test_a_charge_can_be_found_by_its_idempotency_key(sandbox_provider):
    charge = _charge(sandbox_provider, "key-1").json()

    response = requests.get(f"{sandbox_provider.url}/v1/charges", params={"idempotency_key": "key-1"}, timeout=TIMEOUT)

    assert response.json() == charge


def test_a_key_no_charge_was_made_under_is_charge_not_found_and_makes_none(sandbox_provider):
    response = requests.get(f"{sandbox_provider.url}/v1/charges", params={"idempotency_key": "never"}, timeout=TIMEOUT)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "charge_not_found"
    assert sandbox_provider.stats()["charges_created"] == 0


def test_a_lookup_without_a_key_is_a_400_naming_it(sandbox_provider):
    response = requests.get(f"{sandbox_provider.url}/v1/charges", timeout=TIMEOUT)

    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["fields"]
