"""Every admin changelist at scale: each filter, each sort, its search and its last page, timed server-side.

    make bench ARGS="admin [--payments 1000000] [--runs 3] [--slowest 25] [--budget-ms 300]"

1. Data: `seed_demo --payments N` once into the bench database (`make bench`
   keeps its PostgreSQL under .data/bench/postgres, so later runs reuse it: the
   seed is skipped when the payments are there; bench/console.py seeds the same
   way), plus dead letters, then ANALYZE.
2. Crawl: for every model the admin registers, its changelist; every link in its
   filter sidebar and every sort link in its column headers (one level deep,
   from the unfiltered list), a search for a term each page says it serves, and
   the last page its paginator offers.
3. Time: each URL `--runs` times through Django's test client in process
   (middleware, session, view, template; a staff session), the median kept, with
   the SQL statements it ran. Prints the slowest and every URL over the budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The project root instead of bench/, whose websockets.py would shadow the websockets package.
sys.path[0] = str(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from tests.support.admin import changelist_links  # noqa: E402  (the same crawl as the admin tests)
from tests.support.seeded import DOMAIN_TABLES  # noqa: E402

BENCH_USER = "bench-admin"


# --- 1. data ---------------------------------------------------------------------------


def _estimate(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        return int(cursor.fetchone()[0])


def seed(payments: int, dead_letters: int) -> None:
    # The sessions are the seed's last step: with them there, an earlier seed finished.
    if _estimate("payments") >= payments * 0.95 and _estimate("tutoring_sessions") >= payments:
        print(f"payments: ~{_estimate('payments'):,} already seeded (pg_class estimate), reused")
    else:
        if _estimate("payments") > 0:
            # On tables with data seed_demo inserts with the foreign keys in place (hours for the sessions at
            # this scale); on empty tables it loads in bulk. This database is the benchmark's own.
            print("an unfinished or smaller seed: emptying the domain tables so seed_demo loads them in bulk")
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {DOMAIN_TABLES} RESTART IDENTITY CASCADE")
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "seed_demo", "--payments", str(payments)], cwd=ROOT, check=True)
        print(f"payments: seeded {payments:,} with seed_demo in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM dead_letters LIMIT %s) s", [dead_letters])
        if cursor.fetchone()[0] < dead_letters:
            cursor.execute(
                "INSERT INTO dead_letters (task_id, task_name, queue, args, kwargs, reason, exception_class, message,"
                " traceback, attempts, deliveries, failures, correlation_id, status, replayed_task_id, replay_count,"
                " first_failed_at, last_failed_at)"
                " SELECT 'bench-admin-' || g, 'pipeline.create_purchase', 'default', jsonb_build_array(g), '{}'::jsonb,"
                " 'permanent', 'builtins.ValueError', 'bench', '', 1, 1, 1, '',"
                " CASE WHEN g %% 10 = 0 THEN 'new' ELSE 'resolved' END, '', 0,"
                " now() - g * interval '1 second', now() - g * interval '1 second'"
                " FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
                [dead_letters],
            )
        cursor.execute("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM trainers t WHERE t.capacity < (SELECT count(*) FROM trainer_allocations a"
            " WHERE a.trainer_id = t.id AND a.status = 'active')"
        )
        print(f"trainers over capacity: {cursor.fetchone()[0]}")
    print(
        "tables (estimates): "
        + ", ".join(
            f"{table} ~{_estimate(table):,}"
            for table in ("payments", "student_course_purchases", "trainer_allocations", "tutoring_sessions")
        )
    )


# --- 2. crawl ----------------------------------------------------------------------------


def _staff_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def _search_terms(model_admin: admin.ModelAdmin) -> list[str]:
    """A term of each kind the page says it serves: a partial name, an email, a key; an id otherwise."""
    terms = ["123457"]
    model = model_admin.model
    email_path = getattr(model_admin, "search_email_path", None)
    if email_path and model_admin.search_fields:
        email = model.objects.order_by().values_list(email_path, flat=True).filter(**{f"{email_path}__isnull": False})
        first = email.first()
        if first:
            terms.append(first)
            terms.append(first.split("@")[0][:-1])  # a partial email
    for name in getattr(model_admin, "search_names", ()):
        value = model.objects.order_by().values_list(name, flat=True).first()
        if value:
            terms.append(value.split()[-1][:4])  # part of a surname
    return terms


def crawl(client: Client) -> list[tuple[str, str]]:
    """(label, url) for every changelist and what it offers: filters, sorts, searches, its last page."""
    urls: list[tuple[str, str]] = []
    for model, model_admin in admin.site._registry.items():
        base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        name = f"{model._meta.app_label}.{model._meta.model_name}"
        response = client.get(base)
        if response.status_code != 200:
            print(f"  {base}: HTTP {response.status_code}, skipped")
            continue
        found = {base: f"{name} list"}
        for kind, links in changelist_links(response.content.decode(), base).items():
            for link in links:
                found.setdefault(link, f"{name} {kind}")
                if kind == "sort" and "o=" in link and "o=-" not in link:
                    found.setdefault(link.replace("o=", "o=-", 1), f"{name} sort, reversed")
        if model_admin.search_fields:
            for term in _search_terms(model_admin):
                found.setdefault(f"{base}?q={term}", f"{name} search {term!r}")
        urls.extend((label, url) for url, label in found.items())
    return urls


# --- 3. time --------------------------------------------------------------------------------


def timed(client: Client, url: str, runs: int) -> tuple[float, int, int]:
    """Median milliseconds, SQL statements of the last run, HTTP status."""
    times, count, status = [], 0, 0
    for _ in range(runs):
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        count, status = len(queries), response.status_code
    return statistics.median(times), count, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--dead-letters", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slowest", type=int, default=25)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--only", default="", help="time only URLs containing this text")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    seed(args.payments, args.dead_letters)
    if args.seed_only:
        return
    client = _staff_client()
    urls = [(label, url) for label, url in crawl(client) if args.only in url]
    print(f"crawled {len(urls)} changelist URLs; timing each {args.runs} times (median, server time in process)")
    results = []
    for label, url in urls:
        ms, count, status = timed(client, url, args.runs)
        results.append((ms, count, status, label, url))
        if status != 200:
            print(f"  HTTP {status}: {url}")
    results.sort(reverse=True)
    print(f"\nslowest {args.slowest} (budget {args.budget_ms:.0f} ms):")
    for ms, count, status, _label, url in results[: args.slowest]:
        flag = "  OVER" if ms > args.budget_ms else ""
        print(f"  {ms:8.1f} ms  {count:3d} SQL  {status}  {urlsplit(url).path}?{urlsplit(url).query}{flag}")
    print("\nper changelist: URLs timed, the slowest, SQL statements per page (min-max):")
    by_list: dict[str, list[tuple[float, int, int, str, str]]] = {}
    for result in results:
        by_list.setdefault(urlsplit(result[4]).path, []).append(result)
    for list_path, rows in sorted(by_list.items(), key=lambda item: -item[1][0][0]):
        slowest = rows[0]
        sql = sorted(r[1] for r in rows)
        query = urlsplit(slowest[4]).query
        print(f"  {list_path:44} {len(rows):3d} URLs  max {slowest[0]:6.1f} ms (?{query[:50]})  SQL {sql[0]}-{sql[-1]}")
    over = [r for r in results if r[0] > args.budget_ms]
    counts = sorted({r[1] for r in results})
    print(
        f"\n{len(results)} URLs, {len(over)} over {args.budget_ms:.0f} ms; median {statistics.median(r[0] for r in results):.1f} ms;"
        f" SQL statements per page: {counts[0]}-{counts[-1]}"
    )


if __name__ == "__main__":
    main()
