"""Requests/s of the payments read endpoint: our middleware stack vs Django's default, and telemetry's cost.

    make bench ARGS="middleware [--requests 2000] [--concurrency 8] [--rounds 5] [--pairs 40] [--pair-requests 300]"

The stacks serve the same view (GET /api/payments/<id>, bearer token) from
ASGIHandler instances in one process, driven in alternating rounds, so machine
noise hits them alike: ours, ours without TelemetryMiddleware, and Django's
default. This process's telemetry reporter runs throughout (publishing its
snapshot every TELEMETRY_INTERVAL). The ratios are what count. Telemetry's
cost is measured apart, in many short rounds interleaved A B B A
(telemetry_cost; bench/console.py runs it too): the median ratio and its spread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
# Production settings: DEBUG off (no query log), plain HTTP on localhost.
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("API_TOKENS", "bench-token")
os.environ.setdefault("RATE_LIMIT_API", "1000000/m")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from apps.telemetry.reporter import reporter_start  # noqa: E402

TELEMETRY_MIDDLEWARE = "apps.telemetry.middleware.TelemetryMiddleware"

# What `django-admin startproject` generates.
DJANGO_DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def _payment_id() -> int:
    from apps.directory.models import Course, Student
    from apps.payments.models import Payment

    student, _ = Student.objects.get_or_create(email="bench@example.test", defaults={"full_name": "Bench"})
    course, _ = Course.objects.get_or_create(code="bench", defaults={"title": "Bench", "price": 10})
    payment, _ = Payment.objects.get_or_create(
        idempotency_key="bench-payment",
        defaults={"student": student, "course": course, "amount": 10, "currency": "EUR", "status": "succeeded"},
    )
    return payment.id


async def _one(handler: ASGIHandler, path: str, token: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    status = 0
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await handler(scope, receive, send)
    return status


async def _round(handler: ASGIHandler, path: str, token: str, requests: int, concurrency: int) -> float:
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status = await _one(handler, path, token)
            if status != 200:
                raise SystemExit(f"unexpected HTTP {status} from {path}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def telemetry_cost(*, pairs: int, requests: int, concurrency: int) -> dict[str, dict[str, float]]:
    """Telemetry's share of req/s: short rounds with and without TelemetryMiddleware, interleaved A B B A.

    Each pair of neighbouring rounds gives one ratio, so slow drifts of a shared
    machine cancel; the median ratio and its spread (quartiles) are reported, for
    wall-clock req/s and for requests per CPU-second of this process (which other
    processes on a shared machine disturb far less). Needs django.setup() and the
    migrated database (one bench payment).
    """
    path = f"/api/payments/{_payment_id()}"
    token = settings.API_TOKENS[0]
    ours = ASGIHandler()
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != TELEMETRY_MIDDLEWARE]):
        untracked = ASGIHandler()

    async def timed(handler: ASGIHandler) -> tuple[float, float]:
        cpu = time.process_time()
        rate = await _round(handler, path, token, requests, concurrency)
        return rate, requests / max(time.process_time() - cpu, 1e-9)

    async def run() -> dict[str, list[float]]:
        for handler in (ours, untracked):  # warm up each
            await _round(handler, path, token, 200, concurrency)
        costs: dict[str, list[float]] = {"wall": [], "cpu": []}
        for n in range(pairs):
            order = (ours, untracked) if n % 2 == 0 else (untracked, ours)
            rates = {id(h): await timed(h) for h in order}
            for i, kind in enumerate(("wall", "cpu")):
                costs[kind].append(1 - rates[id(ours)][i] / rates[id(untracked)][i])
        return costs

    return {kind: _spread(values) for kind, values in asyncio.run(run()).items()}


def _spread(values: list[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3
    return {"median": statistics.median(values), "q1": quartiles[0], "q3": quartiles[2], "pairs": len(values)}


def telemetry_cost_line(cost: dict[str, dict[str, float]]) -> str:
    wall, cpu = cost["wall"], cost["cpu"]
    return (
        f"  telemetry cost         : {cpu['median']:+.1%} of requests per CPU-second"
        f" (quartiles {cpu['q1']:+.1%} .. {cpu['q3']:+.1%}),"
        f" {wall['median']:+.1%} of wall-clock req/s (quartiles {wall['q1']:+.1%} .. {wall['q3']:+.1%});"
        f" medians of {cpu['pairs']:.0f} interleaved pairs, target <= 3 %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=40, help="interleaved pairs of short rounds for telemetry's cost")
    parser.add_argument("--pair-requests", type=int, default=300)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    path = f"/api/payments/{_payment_id()}"
    token = settings.API_TOKENS[0]
    ours = ASGIHandler()
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != TELEMETRY_MIDDLEWARE]):
        untracked = ASGIHandler()
    with override_settings(MIDDLEWARE=DJANGO_DEFAULT_MIDDLEWARE):
        default = ASGIHandler()
    reporter_start(kind="web")

    async def run() -> tuple[list[float], list[float], list[float]]:
        for handler in (ours, untracked, default):  # warm up each
            await _round(handler, path, token, 200, args.concurrency)
        ours_rates, untracked_rates, default_rates = [], [], []
        for _ in range(args.rounds):
            ours_rates.append(await _round(ours, path, token, args.requests, args.concurrency))
            untracked_rates.append(await _round(untracked, path, token, args.requests, args.concurrency))
            default_rates.append(await _round(default, path, token, args.requests, args.concurrency))
        return ours_rates, untracked_rates, default_rates

    ours_rates, untracked_rates, default_rates = asyncio.run(run())
    ours_median, default_median = statistics.median(ours_rates), statistics.median(default_rates)
    untracked_median = statistics.median(untracked_rates)
    print(f"GET {path}: {args.rounds} alternating rounds of {args.requests} requests, concurrency {args.concurrency}")
    print(f"  our middleware stack   : {ours_median:8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in ours_rates)})")
    print(
        f"  Django default stack   : {default_median:8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in default_rates)})"
    )
    print(
        f"  ours without telemetry : {untracked_median:8.0f} req/s  (rounds: {', '.join(f'{r:.0f}' for r in untracked_rates)})"
    )
    print(f"  ratio ours/default     : {ours_median / default_median:.2f}  (target >= 0.85)")
    print(
        telemetry_cost_line(telemetry_cost(pairs=args.pairs, requests=args.pair_requests, concurrency=args.concurrency))
    )


if __name__ == "__main__":
    main()
