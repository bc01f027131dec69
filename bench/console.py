"""Server time of the console's selectors, computed and cached, over large tables.

    make bench ARGS="console [--dead-letters 200000] [--samples 1000000] [--runs 50]"

Seeds dead letters and history samples with generate_series (once; reruns
reuse them), then times console_overview() computed afresh (every read it
makes, the SQL statement count included), console_overview() served from the
shared cache, and metric_series() over 7 days; then the dead-letters and realtime
pages' data (apps/console/deadletters.py, realtime.py) computed afresh and shared. The payments table (seed_demo
--payments 1000000) does not enter these statements: the overview reads no
payment rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.console import deadletters, realtime  # noqa: E402
from apps.telemetry.selectors import console_overview, metric_series  # noqa: E402
from apps.workers.selectors import deadletter_count_capped, deadletter_groups, deadletter_list  # noqa: E402

SERIES = ["http.rps", "http.p95_ms", "db_pool.in_use", "websockets.connections", "queues.depth", "dead_letters.total"]


def _seed(dead_letters: int, samples: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM dead_letters LIMIT %s) s", [dead_letters])
        if cursor.fetchone()[0] < dead_letters:
            cursor.execute(
                "INSERT INTO dead_letters (task_id, task_name, queue, args, kwargs, reason, exception_class, message,"
                " traceback, attempts, deliveries, failures, correlation_id, status, replayed_task_id, replay_count,"
                " first_failed_at, last_failed_at)"
                " SELECT 'bench-' || g, 'bench.task', 'default', jsonb_build_array(g), '{}'::jsonb, 'permanent',"
                " 'builtins.ValueError', 'bench', '', 1, 1, 1, '', CASE WHEN g %% 10 = 0 THEN 'new' ELSE 'resolved' END,"
                " '', 0, now(), now() FROM generate_series(1, %s) g",
                [dead_letters],
            )
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM telemetry_samples LIMIT %s) s", [samples])
        if cursor.fetchone()[0] < samples:
            per_series = samples // len(SERIES)
            cursor.execute(
                "INSERT INTO telemetry_samples (name, sampled_at, value)"
                " SELECT name, now() - make_interval(secs => 30 * g), random() * 100"
                " FROM unnest(%s::text[]) name, generate_series(1, %s) g",
                [SERIES, per_series],
            )
        cursor.execute("ANALYZE dead_letters")
        cursor.execute("ANALYZE telemetry_samples")


def _timed(call, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _line(label: str, times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
    return f"  {label:38}: p50 {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms   ({len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dead-letters", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _seed(args.dead_letters, args.samples)
    print(f"seeded {args.dead_letters} dead letters, {args.samples} samples in {time.perf_counter() - started:.1f} s")

    with CaptureQueriesContext(connection) as queries:
        console_overview(now=timezone.now())
    computed = _timed(lambda: console_overview(now=timezone.now()), args.runs)
    console_overview()
    cached = _timed(console_overview, args.runs * 4)
    series = _timed(lambda: metric_series(names=SERIES, range_="7d"), args.runs)
    print(f"console_overview computed: {len(queries)} SQL statements")
    print(_line("console_overview() computed afresh", computed))
    print(_line("console_overview() from the shared cache", cached))
    print(_line(f"metric_series({len(SERIES)} series, 7d)", series))
    _console_pages(args.runs)


def _console_pages(runs: int) -> None:
    """The dead-letters and realtime pages' data (their JSON twins' server time), computed afresh and shared."""
    pages = {
        "dead letters, new (default)": deadletters.page_query({}),
        "dead letters, all, by queue": deadletters.page_query({"status": "all", "queue": "default"}),
        "dead letters, all, by payment id": deadletters.page_query({"status": "all", "q": "123456"}),
    }
    for label, query in pages.items():
        with CaptureQueriesContext(connection) as queries:
            deadletters._page_data(query)
        print(f"{label}: {len(queries)} SQL statements")
        print(_line(f"  {label}, computed", _timed(lambda q=query: deadletters._page_data(q), runs)))
    query = deadletters.page_query({})
    filters = query.filters
    parts = {
        "groups": lambda: deadletter_groups(filters=filters, limit=50, within=deadletters.GROUP_WINDOW),
        "letters": lambda: list(deadletter_list(filters=filters)[: deadletters.LETTERS_SHOWN]),
        "capped count": lambda: deadletter_count_capped(filters=filters, cap=deadletters.COUNT_CAP),
        "growth series (24h, shared by every filter)": deadletters._growth_series,
    }
    for label, call in parts.items():
        print(_line(f"  part: {label}", _timed(call, runs)))
    deadletters.deadletters_page(query=query)
    print(_line("dead letters page, shared copy", _timed(lambda: deadletters.deadletters_page(query=query), runs * 4)))
    print(_line("realtime page, computed", _timed(realtime._page_data, runs)))
    realtime.realtime_page()
    print(_line("realtime page, shared copy", _timed(realtime.realtime_page, runs * 4)))


if __name__ == "__main__":
    main()
