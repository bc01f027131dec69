"""A stand-in payment provider: behaves like a real one, and misbehaves on request.

API (subject to the mode):
  POST /v1/charges        {"amount", "currency", "reference"}; the same Idempotency-Key
                          returns the same charge and never charges twice.
  GET  /v1/charges/<id>   one charge.
  GET  /v1/charges?idempotency_key=<key>
                          the charge made under that key, for reconciliation (which
                          reads, never charges); 404 charge_not_found when there is none.
Read and steer (never subject to the mode):
  GET  /v1/stats               charges created, per idempotency key, and requests per "METHOD /path".
  POST /_control/mode          {"mode": normal|slow|hang|error|refuse, "delay_ms": N, "count": N, "seconds": S}
  POST /_control/reset         forget everything, back to normal, release hung requests.
  POST /_control/webhook       {"charge_id", "status"?, "url"?}: send a signed webhook now.
  GET  /_control/last_request  method, path, headers and body of the last API request.
  GET  /_control/webhooks      webhook deliveries so far.

Modes: slow does the work, then holds the answer delay_ms (so a client that gives
up still leaves the charge behind, as with a real provider); hang never answers
and holds the socket until reset or the next mode change; error answers 500
without doing the work; refuse resets the connection without answering. With
"count", the mode applies to that many API requests and then reverts to normal;
with "seconds", it reverts to normal (releasing hung requests) after that many
seconds, by the provider's own timer (the console's fault drills rely on it).
A reference starting with "fail" makes a declined charge (status "failed").
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox_provider.signing import SIGNATURE_HEADER, sign

MODES = ("normal", "slow", "hang", "error", "refuse")
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_RETRY_DELAYS_S = (0.0, 1.0, 2.0)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")

Reply = tuple[int, Any, dict[str, str]]


def _error(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


@dataclass(frozen=True)
class Mode:
    name: str = "normal"
    delay_ms: int = 0
    count: int | None = None  # API requests it still applies to; None: until changed


class ProviderState:
    """Everything the provider remembers; every method is thread-safe."""

    def __init__(self, *, webhook_url: str | None, webhook_secret: str) -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._clear()

    def _clear(self) -> None:
        self.mode = Mode()
        self.charges: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # idempotency key -> (charge id, request fingerprint)
        self.created_by_key: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.last_request: dict[str, Any] | None = None
        self.webhooks: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            self._clear()
            self._release_hung()

    def set_mode(self, mode: Mode, seconds: float | None = None) -> None:
        with self._lock:
            self.mode = mode
            self._release_hung()
        if seconds is not None:
            timer = threading.Timer(seconds, self._revert, args=(mode,))
            timer.daemon = True
            timer.start()

    def _revert(self, mode: Mode) -> None:
        """Back to normal after a timed mode, unless the mode changed since."""
        with self._lock:
            if self.mode is mode:
                self.mode = Mode()
                self._release_hung()

    def release_hung(self) -> None:
        with self._lock:
            self._release_hung()

    def _release_hung(self) -> None:
        self._release.set()
        self._release = threading.Event()

    def admit(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[Mode, threading.Event]:
        """Count an API request; return the mode it meets and the event that frees it if it hangs."""
        with self._lock:
            self.requests[f"{method} {path}"] += 1
            self.last_request = {
                "method": method,
                "path": path,
                "headers": headers,
                "body": body.decode(errors="replace"),
            }
            mode = self.mode
            if mode.count is not None:
                self.mode = Mode() if mode.count <= 1 else replace(mode, count=mode.count - 1)
            return mode, self._release

    def charge_create(self, payload: Any, idempotency_key: str | None) -> Reply:
        fields = _charge_errors(payload)
        if fields:
            return 400, _error("invalid_request", "The charge is invalid.", fields), {}
        request = {name: payload[name] for name in ("amount", "currency", "reference")}
        fingerprint = json.dumps(request, sort_keys=True)
        with self._lock:
            if idempotency_key and idempotency_key in self.keys:
                charge_id, seen = self.keys[idempotency_key]
                if seen != fingerprint:
                    message = "This Idempotency-Key was used with a different request."
                    return 409, _error("idempotency_key_reused", message), {}
                return 200, dict(self.charges[charge_id]), {"Idempotent-Replayed": "true"}
            charge = _new_charge(request)
            self.charges[charge["id"]] = charge
            if idempotency_key:
                self.keys[idempotency_key] = (charge["id"], fingerprint)
                self.created_by_key[idempotency_key] += 1
        if self.webhook_url:
            threading.Thread(target=self._deliver_until_accepted, args=(dict(charge),), daemon=True).start()
        return 200, dict(charge), {}

    def charge(self, charge_id: str) -> dict[str, Any] | None:
        with self._lock:
            charge = self.charges.get(charge_id)
            return dict(charge) if charge else None

    def charge_for_key(self, idempotency_key: str) -> dict[str, Any] | None:
        with self._lock:
            known = self.keys.get(idempotency_key)
            return dict(self.charges[known[0]]) if known else None

    def charge_set_status(self, charge_id: str, status: str | None) -> dict[str, Any] | None:
        with self._lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                return None
            if status:
                charge["status"] = status
            return dict(charge)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "charges_created": len(self.charges),
                "charges_by_idempotency_key": dict(self.created_by_key),
                "requests": dict(self.requests),
                "webhooks_sent": len(self.webhooks),
            }

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.webhooks)

    def deliver_webhook(self, charge: dict[str, Any], url: str) -> dict[str, Any]:
        """POST a signed charge.<status> event to `url`; returns the delivery record."""
        event = charge_event(charge)
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.webhook_secret)}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  (http(s) checked)
        try:
            with self._opener.open(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                status: int | None = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:  # refused, reset, timed out (URLError is an OSError)
            status = None
        delivery = {"url": url, "status": status, "event": event}
        with self._lock:
            self.webhooks.append(delivery)
        return delivery

    def _deliver_until_accepted(self, charge: dict[str, Any]) -> None:
        for delay in WEBHOOK_RETRY_DELAYS_S:
            time.sleep(delay)
            status = self.deliver_webhook(charge, self.webhook_url or "")["status"]
            if status is not None and 200 <= status < 300:
                return


def charge_event(charge: dict[str, Any]) -> dict[str, Any]:
    """The webhook event announcing a charge's status: the charge travels under data.object."""
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "type": f"charge.{charge['status']}",
        "created": int(time.time()),
        "data": {"object": charge},
    }


def _new_charge(request: dict[str, Any]) -> dict[str, Any]:
    declined = str(request["reference"]).startswith("fail")
    return {
        "id": f"ch_{secrets.token_hex(12)}",
        "object": "charge",
        **request,
        "status": "failed" if declined else "succeeded",
        "failure_code": "card_declined" if declined else None,
        "created": int(time.time()),
    }


def _charge_errors(payload: Any) -> dict[str, str]:
    if not isinstance(payload, dict):
        return {"body": "must be a JSON object"}
    errors = {}
    if not _positive_amount(payload.get("amount")):
        errors["amount"] = "must be a positive integer or decimal string"
    if not isinstance(payload.get("currency"), str) or not _CURRENCY.match(payload["currency"]):
        errors["currency"] = "must be a three-letter currency code"
    reference = payload.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= 200:
        errors["reference"] = "must be a string of 1 to 200 characters"
    return errors


def _positive_amount(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > 0
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return False
        return amount.is_finite() and amount > 0
    return False


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


# --- Routing ------------------------------------------------------------------


def api_reply(state: ProviderState, method: str, path: str, body: bytes, headers: Any, query: str = "") -> Reply:
    if (method, path) == ("POST", "/v1/charges"):
        return state.charge_create(_json(body), headers.get("Idempotency-Key"))
    if (method, path) == ("GET", "/v1/charges"):
        return _charge_by_key(state, parse_qs(query).get("idempotency_key", []))
    if method == "GET" and path.startswith("/v1/charges/"):
        charge = state.charge(path.removeprefix("/v1/charges/"))
        return (200, charge, {}) if charge else (404, _error("not_found", "No such charge."), {})
    return 404, _error("not_found", f"No route for {method} {path}."), {}


def _charge_by_key(state: ProviderState, keys: list[str]) -> Reply:
    if len(keys) != 1 or not keys[0]:
        fields = {"idempotency_key": "exactly one is required"}
        return 400, _error("invalid_request", "Name the charge by its idempotency key.", fields), {}
    charge = state.charge_for_key(keys[0])
    if charge is None:
        return 404, _error("charge_not_found", "No charge was made under this idempotency key."), {}
    return 200, charge, {}


def control_reply(state: ProviderState, method: str, path: str, body: bytes) -> Reply:
    route = f"{method} {path}"
    if route == "GET /v1/stats":
        return 200, state.stats(), {}
    if route == "GET /_control/last_request":
        return 200, state.last_request, {}
    if route == "GET /_control/webhooks":
        return 200, state.deliveries(), {}
    if route == "POST /_control/reset":
        state.reset()
        return 200, {"reset": True}, {}
    if route == "POST /_control/mode":
        return _set_mode(state, _json(body))
    if route == "POST /_control/webhook":
        return _send_webhook(state, _json(body))
    return 404, _error("not_found", f"No route for {route}."), {}


def _set_mode(state: ProviderState, payload: Any) -> Reply:
    payload = payload if isinstance(payload, dict) else {}
    name, delay_ms, count = payload.get("mode"), payload.get("delay_ms", 0), payload.get("count")
    seconds = payload.get("seconds")
    if name not in MODES:
        return 400, _error("invalid_request", f"mode must be one of {', '.join(MODES)}."), {}
    if not isinstance(delay_ms, int) or delay_ms < 0 or not (count is None or (isinstance(count, int) and count > 0)):
        return 400, _error("invalid_request", "delay_ms must be an integer >= 0 and count one > 0."), {}
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        return 400, _error("invalid_request", "seconds must be a number > 0."), {}
    state.set_mode(Mode(name, delay_ms, count), seconds)
    return 200, {"mode": name, "delay_ms": delay_ms, "count": count, "seconds": seconds}, {}


def _send_webhook(state: ProviderState, payload: Any) -> Reply:
    payload = payload if isinstance(payload, dict) else {}
    charge = state.charge_set_status(str(payload.get("charge_id")), payload.get("status"))
    if charge is None:
        return 404, _error("not_found", "No such charge."), {}
    url = payload.get("url") or state.webhook_url
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return 400, _error("invalid_request", "No http(s) webhook URL: start with --webhook-url or pass url."), {}
    return 200, state.deliver_webhook(charge, url), {}


# --- Server -------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real provider behind a load balancer
    server_version = "sandbox-provider/1"
    # Headers and body go out in two writes; with Nagle on, a kept-alive client waits 40 ms for the body.
    disable_nagle_algorithm = True
    server: ProviderServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        path = url.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path.startswith("/_control/") or path == "/v1/stats":
            return self._reply(*control_reply(state, method, path, body))
        mode, release = state.admit(method, path, dict(self.headers), body)
        if mode.name == "refuse":
            return self._reset_connection()
        if mode.name == "hang":
            release.wait()
            self.close_connection = True
            return None
        if mode.name == "error":
            return self._reply(500, _error("sandbox_error", "The sandbox was told to fail."), {})
        reply = api_reply(state, method, path, body, self.headers, url.query)
        if mode.name == "slow":
            time.sleep(mode.delay_ms / 1000)
        return self._reply(*reply)

    def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the client gave up (timed out) before the answer
            self.close_connection = True

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0: the client sees a reset, never an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients must not wait on SYN retries

    def __init__(self, address: tuple[str, int], state: ProviderState) -> None:
        self.state = state
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up: no traceback
            return
        super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox_provider", description="A sandbox payment provider.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on start)")
    parser.add_argument("--webhook-url", help="POST a signed webhook here after each new charge")
    parser.add_argument("--webhook-secret", default="", help="HMAC secret for X-Sandbox-Signature")
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-secret is required with --webhook-url")
    state = ProviderState(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)
    server = ProviderServer((args.host, args.port), state)
    host, port = server.server_address[:2]
    print(f"sandbox_provider listening on http://{host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        state.release_hung()
        server.server_close()
    return 0
