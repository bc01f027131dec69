"""What the connection pool buys: a one-query view served pooled vs with a new connection per request, same run.

    make bench ARGS="pool [--requests 500] [--rounds 5]"

Two database aliases on the same PostgreSQL: `default`, as settings configure
it (psycopg's pool, CONN_MAX_AGE 0), and `unpooled`, the same options without
the pool, so Django opens a connection for each request and closes it when the
request finishes. One view runs `SELECT 1` on the alias it is given, through
Django's request cycle (test client, the project's middleware, the
request_finished handler that returns or closes the connection). Rounds
alternate pooled and unpooled, so machine noise hits both; the ratio is what
counts. The embedded PostgreSQL listens on a unix socket with trust auth, the
cheapest connection there is: over TCP with a password (and TLS) a new
connection costs more, so this ratio is a floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connections  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402


def one_query(request: HttpRequest, alias: str) -> HttpResponse:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok")


urlpatterns = [path("one-query/<str:alias>", one_query)]


def _add_unpooled_alias() -> None:
    default = connections.settings["default"]
    options = {key: value for key, value in default["OPTIONS"].items() if key != "pool"}
    connections.settings["unpooled"] = {**default, "OPTIONS": options, "CONN_MAX_AGE": 0}


def _round(handler: WSGIHandler, alias: str, requests: int) -> float:
    """Requests per second for `requests` sequential GETs of the view on `alias`, as a WSGI server drives them.

    Not through the test client: it keeps connections open across requests, which is what is measured here.
    """
    environ = RequestFactory().get(f"/one-query/{alias}").environ
    started = time.perf_counter()
    for _ in range(requests):
        response = handler(dict(environ), _start_response)
        response.close()  # request_finished: the connection goes back to the pool, or is closed
        if response.status_code != 200:
            raise SystemExit(f"GET /one-query/{alias}: HTTP {response.status_code}")
    return requests / (time.perf_counter() - started)


def _start_response(status: str, headers: list[tuple[str, str]], *exc_info: object) -> None:
    pass


def _connections_opened() -> int:
    """Connections PostgreSQL has accepted so far (its pg_stat_database counter for this database)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    _add_unpooled_alias()
    handler = WSGIHandler()
    rates: dict[str, list[float]] = {"default": [], "unpooled": []}
    opened: dict[str, int] = {"default": 0, "unpooled": 0}
    with override_settings(ROOT_URLCONF=__name__):
        for alias in rates:
            _round(handler, alias, 20)  # warm: the pool fills, imports and URL resolving settle
        for n in range(args.rounds):
            order = ["default", "unpooled"] if n % 2 == 0 else ["unpooled", "default"]
            for alias in order:
                before = _connections_opened()
                rates[alias].append(_round(handler, alias, args.requests))
                opened[alias] += _connections_opened() - before
    pooled, unpooled = statistics.median(rates["default"]), statistics.median(rates["unpooled"])
    print(f"one-query view, {args.rounds} alternating rounds of {args.requests} sequential requests:")
    print(f"  pooled (settings' pool):         {pooled:7.0f} req/s   rounds {[round(r) for r in rates['default']]}")
    print(f"  new connection per request:      {unpooled:7.0f} req/s   rounds {[round(r) for r in rates['unpooled']]}")
    print(f"  ratio pooled / new connection:   {pooled / unpooled:.2f}")
    print(f"  per request: pooled {1000 / pooled:.2f} ms, new connection {1000 / unpooled:.2f} ms")
    total = args.rounds * args.requests
    print(f"  connections PostgreSQL accepted for {total} requests: pooled {opened['default']},"
          f" new connection {opened['unpooled']}")  # fmt: skip


if __name__ == "__main__":
    main()
