"""The console's costs at scale: overview JSON server time and queries, database CPU of open dashboards, telemetry.

    make bench ARGS="console [--payments 1000000] [--runs 200] [--clients 20] [--seconds 60] [--pairs 40]"

1. Data: `seed_demo --payments N` once into the bench database (`make bench` keeps
   its PostgreSQL under .data/bench/postgres, so later runs reuse it: the seed is
   skipped when the payments are there), plus 200 000 dead letters and 1 000 000
   history samples rolled up into their buckets.
2. The overview's JSON twin (`GET /api/ops/overview`, in process through Django's
   test client, middleware included, a staff session): server time computed afresh
   (the shared cache cleared before each request) and from the shared cache, with
   the SQL statements of each request (printed: they must not vary); the 24 h and
   7 d history twins too.
3. Database CPU of open dashboards: a real uvicorn on the bench database; PostgreSQL's
   CPU time read from /proc/<pid>/stat (the postmaster's own and reaped children's
   time, plus each live backend's) over `--seconds` with no dashboard, with
   `--clients` pages polling /ops/live every CONSOLE_LIVE_INTERVAL, and with as
   many /ws/ops/ sockets. A background load of `--load-rps` payment reads runs
   through every phase, so "versus none" has a working database to compare with.
   `--rounds N` measures every phase N times, reversing the order every other round
   (so a warm-up or a neighbour's burst does not always land on the same phase), and
   compares the medians.
4. Telemetry's cost on req/s: bench/middleware.py's interleaved A B B A rounds
   with and without TelemetryMiddleware, the median ratio and its spread.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
os.environ.setdefault("API_TOKENS", "bench-token")
os.environ.setdefault("RATE_LIMIT_API", "1000000/m")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.telemetry.reporter import key, reporter_start  # noqa: E402
from apps.telemetry.selectors import console_overview, overview_forget  # noqa: E402
from apps.telemetry.services import rollups_rebuild  # noqa: E402
from bench.middleware import _payment_id, telemetry_cost, telemetry_cost_line  # noqa: E402
from lib.db import statement_timeout  # noqa: E402
from lib.redis import get_client  # noqa: E402
from scripts import procfile  # noqa: E402
from scripts.devstack import _free_port  # noqa: E402

SERIES = ["http.rps", "http.p95_ms", "db_pool.in_use", "websockets.connections", "queues.depth", "dead_letters.total"]
BENCH_USER = "bench-operator"


# --- 1. data ---------------------------------------------------------------------------


def _payments_estimate() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'payments'::regclass")
        return int(cursor.fetchone()[0])


def _seed_payments(payments: int) -> None:
    if _payments_estimate() >= payments * 0.95:
        print(f"payments: ~{_payments_estimate():,} already seeded (pg_class estimate), reused")
        return
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "seed_demo", "--payments", str(payments)], cwd=ROOT, check=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE payments")
    print(f"payments: seeded {payments:,} with seed_demo in {time.perf_counter() - started:.0f} s")


def _seed_console(dead_letters: int, samples: int) -> None:
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
        per_series = samples // len(SERIES)
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM telemetry_samples LIMIT %s) s", [samples])
        if cursor.fetchone()[0] < per_series * len(SERIES):  # what the insert below gives
            cursor.execute(
                "INSERT INTO telemetry_samples (name, sampled_at, value)"
                " SELECT name, now() - make_interval(secs => 30 * g), random() * 100"
                " FROM unnest(%s::text[]) name, generate_series(1, %s) g",
                [SERIES, per_series],
            )
            now = timezone.now()
            with statement_timeout():  # DB_REPORT_STATEMENT_TIMEOUT: a million samples take a while
                rollups_rebuild(since=now - datetime.timedelta(seconds=30 * per_series + 3600), until=now)
        cursor.execute("ANALYZE dead_letters")
        cursor.execute("ANALYZE telemetry_samples")
        cursor.execute("ANALYZE telemetry_rollups")


def _staff_user(n: int = 0):  # type: ignore[no-untyped-def]
    """Operator number n (each dashboard its own: /ws/ops/ allows WS_MAX_CONNECTIONS_PER_USER sockets per user)."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=f"{BENCH_USER}-{n}", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


# --- 2. the overview's JSON twin ---------------------------------------------------------------


def _forget_cached_overview() -> None:
    overview_forget()  # and its slow parts: computed afresh


def _overview_cached() -> None:
    console_overview()  # the shared copy is fresh for the request that follows


def _request_times(
    client: Client, path: str, runs: int, before: Callable[[], None] | None
) -> tuple[list[float], set[int]]:
    times, counts = [], set()
    for _ in range(runs):
        if before:
            before()
        connection.queries_log.clear()  # a full log (9000 entries) would make the count wrong
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status_code}")
        counts.add(len(queries))
    return times, counts


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)


def _line(label: str, times: list[float], counts: set[int] | None = None) -> str:
    queries = f"   SQL statements per request: {sorted(counts)}" if counts is not None else ""
    return (
        f"  {label:44}: p50 {statistics.median(times):6.1f} ms   p95 {_p95(times):6.1f} ms"
        f"   ({len(times)} requests){queries}"
    )


def overview_twin(runs: int) -> None:
    client = Client()
    client.force_login(_staff_user())
    client.get("/api/ops/overview")  # warm: templates, pools, first plans
    print("overview JSON twin, server time in process (middleware, session, view; target p95 < 50 ms):")
    for label, path, before in [
        ("GET /api/ops/overview, computed afresh", "/api/ops/overview", _forget_cached_overview),
        ("GET /api/ops/overview, from the shared cache", "/api/ops/overview", _overview_cached),
        ("GET /api/ops/overview?range=24h, afresh", "/api/ops/overview?range=24h", _forget_cached_overview),
        ("GET /api/ops/overview?range=7d, afresh", "/api/ops/overview?range=7d", _forget_cached_overview),
    ]:
        times, counts = _request_times(client, path, runs, before)
        print(_line(label, times, counts))
    overview_statements(max(20, runs // 4))


def overview_statements(runs: int) -> None:
    """Each statement one overview computation runs, afresh and in steady state, with its median time."""
    for label, before in [
        ("afresh (every part read)", overview_forget),
        ("steady state (the slow parts shared until the next sample)", _forget_the_2_s_copy),
    ]:
        console_overview()
        times: dict[str, list[float]] = {}
        for _ in range(runs):
            before()
            timed: list[tuple[str, float]] = []
            with connection.execute_wrapper(functools.partial(_timed_statement, timed)):
                console_overview()
            for n, (sql, ms) in enumerate(timed):
                times.setdefault(f"{n + 1:2}. {' '.join(sql.split())[:90]}", []).append(ms)
        print(
            f"one overview computation, {label}: statements (BEGIN and COMMIT not shown) and median time, {runs} runs"
        )
        for statement, ms in times.items():
            print(f"  {statement:96} {statistics.median(ms):6.2f} ms")


def _timed_statement(timed: list[tuple[str, float]], execute: Any, sql: str, *args: Any) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, *args)
    finally:
        timed.append((sql, (time.perf_counter() - started) * 1000))


def _forget_the_2_s_copy() -> None:
    get_client("write").delete(key("overview"), key("overview", "computing"))


def _forget_console_readings() -> None:
    """Every page's shared reading and the overview's, so the next request computes afresh."""
    client = get_client("write")
    stale = list(client.scan_iter(match=f"{settings.TELEMETRY_KEY_PREFIX}:console:*", count=1000))
    if stale:
        client.delete(*stale)
    overview_forget()


def _a_payment_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM payments")
        return int(cursor.fetchone()[0] or 1)


def page_twins(runs: int) -> None:
    """Every console page's JSON twin: afresh (target p95 < 50 ms; the database page's statistics up to 500 ms)."""
    client = Client()
    client.force_login(_staff_user())
    payment_id = _a_payment_id()
    print("console pages' JSON twins, server time in process, computed afresh and from the shared copy:")
    for path in [
        "/api/ops/database",
        "/api/ops/workers",
        "/api/ops/dead-letters",
        "/api/ops/dead-letters?status=all&q=123456",
        "/api/ops/realtime",
        "/api/ops/alerts",
        "/api/ops/audit",
        f"/api/ops/payments?q={payment_id}",
        f"/api/ops/payments/{payment_id}",
    ]:
        client.get(path)  # warm
        times, counts = _request_times(client, path, runs, _forget_console_readings)
        print(_line(f"GET {path}, afresh", times, counts))
        times, counts = _request_times(client, path, runs, None)
        print(_line(f"GET {path}, shared", times, counts))


# --- 3. database CPU of open dashboards ------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _postmaster_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory')")
        data_directory = cursor.fetchone()[0]
    return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu_seconds(postmaster: int) -> float:
    """PostgreSQL's CPU so far: the postmaster's own and its reaped children's, plus each live child's."""
    own = _stat(postmaster)  # fields after the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = sum(int(v) for v in own[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry.name)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[1] == str(postmaster):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS


def _database_counters() -> tuple[int, int]:
    """The bench database's transactions and rows read so far (pg_stat_database): exact where CPU ticks are coarse.

    Backends flush their counts about once a second, so a phase's edges blur by that much.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        transactions, rows = cursor.fetchone()
    return int(transactions), int(rows)


@contextmanager
def web_server() -> Iterator[str]:
    port = _free_port(8300)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPS_PROCESS_KIND": "web", "WS_ALLOWED_ORIGINS": base}
    argv = [*procfile.argv("web", {"HOST": "127.0.0.1", "PORT": str(port)}), "--no-access-log"]
    log = open(ROOT / ".data" / "bench" / "console-web.log", "ab")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/health", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its first answer is slow
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the bench's web server did not start: see .data/bench/console-web.log") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _session_cookies(count: int) -> list[str]:
    cookies = []
    for n in range(count):
        client = Client()
        client.force_login(_staff_user(n))
        cookies.append(client.cookies["sessionid"].value)
    return cookies


def _background_load(base: str, payment_id: int, rps: float, stop: threading.Event) -> None:
    """`rps` payment reads per second (the application's own database work), until stopped."""
    path = f"{base}/api/payments/{payment_id}"
    headers = {"Authorization": f"Bearer {settings.API_TOKENS[0]}"}
    with requests.Session() as http:
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                http.get(path, headers=headers, timeout=10)
            except requests.RequestException:
                return  # the server is stopping
            next_at += 1 / rps
            stop.wait(max(0.0, next_at - time.monotonic()))


def _pollers(base: str, cookies: list[str], stop: threading.Event) -> list[threading.Thread]:
    def poll(cookie: str) -> None:
        with requests.Session() as http:
            http.cookies.set("sessionid", cookie)
            while not stop.is_set():
                response = http.get(f"{base}/ops/live", timeout=10)
                if response.status_code != 200:
                    raise SystemExit(f"/ops/live: HTTP {response.status_code}")
                stop.wait(settings.CONSOLE_LIVE_INTERVAL)

    return [threading.Thread(target=poll, args=(cookie,), daemon=True) for cookie in cookies]


async def _sockets(base: str, cookies: list[str], seconds: float) -> int:
    """One /ws/ops/ socket per cookie, open for `seconds`; returns the overview frames they received."""
    from websockets.asyncio.client import connect

    url = base.replace("http://", "ws://") + "/ws/ops/"
    frames = 0

    async def one(cookie: str) -> None:
        nonlocal frames
        async with connect(url, origin=base, additional_headers={"Cookie": f"sessionid={cookie}"}) as ws:  # type: ignore[arg-type]
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=left)
                except TimeoutError:
                    break
                frames += '"ops.overview"' in str(message)

    await asyncio.gather(*(one(cookie) for cookie in cookies))
    return frames


def dashboards_cpu(*, clients: int, seconds: float, load_rps: float, rounds: int = 1) -> None:
    postmaster = _postmaster_pid()
    cookies = _session_cookies(clients)
    payment_id = _payment_id()
    connection.close()  # a fresh backend, whose only work is reading the counters at each phase's edges
    with web_server() as base:
        stop_load = threading.Event()
        load = threading.Thread(target=_background_load, args=(base, payment_id, load_rps, stop_load), daemon=True)
        if load_rps > 0:
            load.start()
        time.sleep(3)  # the server's pools and plans warm

        def measure(run: Callable[[], str]) -> tuple[float, str]:
            started, counters = postgres_cpu_seconds(postmaster), _database_counters()
            note = run()
            done = [b - a for a, b in zip(counters, _database_counters(), strict=True)]
            used = postgres_cpu_seconds(postmaster) - started
            return used, f"   transactions {done[0]:,}, rows read {done[1]:,}{note}"

        def idle() -> str:
            time.sleep(seconds)
            return ""

        def polling() -> str:
            stop = threading.Event()
            threads = _pollers(base, cookies, stop)
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
            return ""

        def sockets(count: int) -> Callable[[], str]:
            def run() -> str:
                frames = asyncio.run(_sockets(base, cookies[:count], seconds))
                return f"   ({frames} overview frames received)"

            return run

        print(
            f"database CPU, {clients} dashboards for {seconds:.0f} s vs none"
            f" (background load {load_rps:g} payment reads/s; {rounds} round(s), the phases' order reversed"
            " every other round; target: ≤ 5 % added):"
        )
        phases = [
            ("no dashboard", idle),
            ("1 /ws/ops/ socket", sockets(1)),
            (f"{clients} dashboards polling /ops/live", polling),
            (f"{clients} /ws/ops/ sockets", sockets(clients)),
        ]
        used: dict[str, list[float]] = {label: [] for label, _ in phases}
        for round_ in range(rounds):
            for label, run in phases if round_ % 2 == 0 else phases[::-1]:
                cpu, note = measure(run)
                used[label].append(cpu)
                print(f"  round {round_ + 1}: {label:40}: PostgreSQL CPU {cpu:6.2f} s over {seconds:.0f} s{note}")
        baseline = statistics.median(used["no dashboard"])
        print(f"  median of {rounds} round(s):")
        for label, cpus in used.items():
            median = statistics.median(cpus)
            added = median - baseline
            share = f"{added / baseline:+.1%}" if baseline > 0 else "n/a"
            versus = (
                ""
                if label == "no dashboard"
                else f"   added {added:+6.2f} s = {share}, {added / seconds:.2%} of one core"
            )
            print(f"  {label:49}: {median:6.2f} s{versus}")
        stop_load.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--dead-letters", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--load-rps", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=1, help="CPU phase: measure every phase this many times")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--pair-requests", type=int, default=300)
    parser.add_argument("--skip", nargs="*", default=[], choices=["twin", "pages", "cpu", "telemetry"])
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    _seed_payments(args.payments)
    _seed_console(args.dead_letters, args.samples)
    reporter_start(kind="web")
    if "twin" not in args.skip:
        overview_twin(args.runs)
    if "pages" not in args.skip:
        page_twins(max(20, args.runs // 4))
    if "cpu" not in args.skip:
        dashboards_cpu(clients=args.clients, seconds=args.seconds, load_rps=args.load_rps, rounds=args.rounds)
    if "telemetry" not in args.skip:
        print("telemetry's cost on web req/s (GET /api/payments/<id>, in process, concurrency 8):")
        print(telemetry_cost_line(telemetry_cost(pairs=args.pairs, requests=args.pair_requests, concurrency=8)))


if __name__ == "__main__":
    main()
