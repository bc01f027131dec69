"""Pipeline throughput on a real worker against the same worker's no-op tasks, and what each step costs.

    make bench ARGS=pipeline                    # the ratio to the 0.3 goal, latency, hand-offs, timeline cost
    make bench ARGS="pipeline --handoffs 0 --timeline-rounds 0"         # the ratio and latency only
    make bench ARGS="pipeline --profile 100 --rounds 0 --handoffs 0 --timeline-rounds 0"  # the per-step table

1. The goal, in one run and one worker (all queues, prefork): interleaved
   rounds of no-op `ReliableTask`s (tasks/s) and of N succeeded payments each
   taken through purchase, allocation, sessions and notify, enqueued at once
   (pipelines/s, timed from the first enqueue to the last session written).
   Tasks per pipeline are counted (the worker's own per-task totals, read with
   `celery inspect stats` before and after, once every notify ran), not assumed.
   Prints (pipelines/s x tasks per pipeline) / no-op tasks/s against 0.3.
2. Latency from payment succeeded (its outbox hand-off committed) to its last
   session written, p50 and p99: at low load (pipelines offered at a steady
   `--low-rate`, 2/s by default) and at saturation (the rounds above: all N
   enqueued at once, so it is mostly queueing).
3. No-op tasks through ReliableTask vs a plain @shared_task with the same
   options (acks_late, reject_on_worker_lost, ignore_result), interleaved.
4. Hand-offs: a ReliableTask no-op enqueued from a committing transaction
   through the outbox (INSERT, publish after commit, DELETE) vs the old
   `transaction.on_commit(task.delay)`, each in a transaction that writes one
   row, interleaved rounds; prints the committing side's hand-offs/s and the
   ratio. `--handoffs 0` leaves it out.
5. The payment timeline's cost: the same end-to-end pipelines with the
   timeline off (TIMELINE_ENABLED=0 in this process and a fresh worker) and
   on, interleaved rounds in one run; prints pipelines/s each way and the
   ratio (target >= 0.9). `--timeline-rounds 0` leaves it out.
6. `--profile N`: N pipelines on a worker that counts, per task, SQL
   statements, commits, new PostgreSQL connections, pool opens and closes,
   Redis round trips, broker publishes, channel-layer group sends and ms
   (bench/pipeline_profile.py); `--cprofile` also writes each pool process's
   cProfile stats and prints the top functions.

Everything runs with production settings (DEBUG off), as the other benches do;
`--debug` runs it all with the development settings instead.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ.setdefault("CELERY_BROKER_KEY_PREFIX", f"bench-{uuid.uuid4().hex[:8]}:")
# Production settings in this process and its workers, as the other benches: DEBUG logs every statement.
# `--debug` times the development settings instead.
os.environ["DEBUG"] = "1" if "--debug" in sys.argv else "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Max  # noqa: E402

from apps.pipeline.steps import NOTIFY_ALLOCATION  # noqa: E402
from apps.tutoring.models import TutoringSession  # noqa: E402
from bench.pipeline_tasks import COUNTER_KEY, bench_noop_plain, bench_noop_reliable  # noqa: E402
from ops_console.celery import app  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

GOAL = 0.3


def start_worker(
    concurrency: int,
    *,
    timeline: bool = True,
    extra_env: dict[str, str] | None = None,
    include: str = "bench.pipeline_tasks",
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPS_PROCESS_KIND": "worker",
        "LOG_LEVEL": "WARNING",
        "TIMELINE_ENABLED": "1" if timeline else "0",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", ",".join(settings.WORKER_QUEUES),
         "--pool", "prefork", "--concurrency", str(concurrency), "--prefetch-multiplier", "4", "--include", include,
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip


@dataclass(frozen=True)
class PipelineRun:
    per_second: float
    # Seconds from each payment's hand-off to its last session written.
    latencies: list[float]


def _bench_course(count: int, sessions: int):  # type: ignore[no-untyped-def]
    from tests.factories import CourseFactory, TrainerFactory

    course = CourseFactory(sessions_per_purchase=sessions)
    for _ in range(5):
        TrainerFactory(capacity=count).courses.add(course)
    return course


def bench_pipelines(count: int, sessions: int, *, rate: float | None = None) -> PipelineRun:
    """`count` pipelines, all at once (rate None) or one every 1/rate s; timed until the last session is written.

    The wait polls one indexed count (the bench course's sessions) every 50 ms, so the
    measuring process takes little of the database's time from the worker.
    """
    from apps.pipeline.services import pipeline_start_for_payment
    from tests.factories import PaymentFactory, StudentFactory

    course = _bench_course(count, sessions)
    ids = [PaymentFactory(course=course, student=StudentFactory()).id for _ in range(count)]
    handed_off: dict[int, float] = {}
    started = time.perf_counter()
    for n, payment_id in enumerate(ids):
        if rate is not None:
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        handed_off[payment_id] = time.time()
        pipeline_start_for_payment(payment_id=payment_id)
    sessions_of_course = TutoringSession.objects.filter(course=course)
    wait_until(lambda: sessions_of_course.count() >= count * sessions, timeout=600, interval=0.05)
    elapsed = time.perf_counter() - started
    done = sessions_of_course.values_list("allocation__purchase__payment_id").annotate(last=Max("created_at"))
    latencies = sorted(last.timestamp() - handed_off[payment_id] for payment_id, last in done)
    return PipelineRun(per_second=count / elapsed, latencies=latencies)


def task_totals() -> dict[str, int]:
    """Tasks each name the worker has run since it started (`celery inspect stats`, summed over workers)."""
    replies = app.control.inspect(timeout=2.0).stats() or {}
    totals: dict[str, int] = defaultdict(int)
    for stats in replies.values():
        for name, n in (stats.get("total") or {}).items():
            totals[name] += n
    return totals


def sessions_opened() -> int:
    """PostgreSQL sessions ever opened on this database (pg_stat_database, PostgreSQL 14+; flushed within a second)."""
    from django.db import connection

    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def counted_pipelines(count: int, sessions: int) -> tuple[PipelineRun, dict[str, int]]:
    """A burst of pipelines, and the tasks the worker ran for them by name (once every notify has run)."""
    before = task_totals()
    run = bench_pipelines(count, sessions)
    wait_until(lambda: task_totals().get(NOTIFY_ALLOCATION, 0) - before.get(NOTIFY_ALLOCATION, 0) >= count,
               timeout=120, interval=0.2)  # fmt: skip
    after = task_totals()
    ran = {name: after[name] - before.get(name, 0) for name in after if after[name] > before.get(name, 0)}
    return run, ran


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def latency_words(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.5) * 1000:,.0f} ms, p99 {percentile(latencies, 0.99) * 1000:,.0f} ms "
        f"(n={len(latencies)})"
    )


def bench_noops(task, count: int) -> float:
    from lib.redis import get_client

    client = get_client("write")
    client.delete(COUNTER_KEY)
    started = time.perf_counter()
    for _ in range(count):
        task.delay()
    wait_until(lambda: int(client.get(COUNTER_KEY) or 0) >= count, timeout=600, interval=0.02)
    return count / (time.perf_counter() - started)


def bench_handoffs(count: int, *, outbox: bool) -> float:
    """Hand-offs/s as the committing process sees them, until all ran: each transaction writes one row
    (as every pipeline step and settlement does) and hands one task on."""
    from django.db import transaction
    from django.utils import timezone

    from apps.directory.models import Student
    from apps.outbox.services import outbox_enqueue
    from lib.redis import get_client
    from tests.factories import StudentFactory

    client = get_client("write")
    client.delete(COUNTER_KEY)
    student = StudentFactory()
    started = time.perf_counter()
    for _ in range(count):
        with transaction.atomic():
            Student.objects.filter(id=student.id).update(updated_at=timezone.now())
            if outbox:
                outbox_enqueue(task_name=bench_noop_reliable.name)
            else:
                transaction.on_commit(bench_noop_reliable.delay)
    committed = time.perf_counter() - started
    wait_until(lambda: int(client.get(COUNTER_KEY) or 0) >= count, timeout=600, interval=0.02)
    return count / committed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=300, help="pipelines per saturation round")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--noops", type=int, default=3000, help="no-op tasks per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of no-ops and pipelines")
    parser.add_argument("--low-rate", type=float, default=2.0, help="pipelines/s offered for the low-load latency")
    parser.add_argument("--low-pipelines", type=int, default=40, help="pipelines offered at --low-rate")
    parser.add_argument("--plain-rounds", type=int, default=0, help="rounds of plain vs ReliableTask no-ops")
    parser.add_argument("--handoffs", type=int, default=1000, help="hand-offs per round (0: leave the part out)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeline-rounds", type=int, default=2, help="rounds of pipelines with the timeline off/on")
    parser.add_argument("--profile", type=int, default=0, help="pipelines on a worker counting what each task does")
    parser.add_argument("--profile-sql", action="store_true", help="with --profile: print one task's statements")
    parser.add_argument("--cprofile", action="store_true", help="with --profile: cProfile each task too")
    parser.add_argument("--debug", action="store_true", help="DEBUG on (development settings) instead of off")
    args = parser.parse_args()

    call_command("migrate", "--no-input", verbosity=0)
    call_command("flush", "--no-input", verbosity=0)  # the bench profile's database outlives a run
    if args.profile:
        bench_profile(args)
    worker = start_worker(args.concurrency)
    try:
        bench_noops(bench_noop_plain, 200)  # warm up the pool processes
        if args.rounds:
            bench_goal(args)
        if args.low_pipelines:
            low = bench_pipelines(args.low_pipelines, args.sessions, rate=args.low_rate)
            print(f"latency at low load ({args.low_rate:g} pipelines/s offered): {latency_words(low.latencies)}")
        if args.plain_rounds:
            bench_plain_vs_reliable(args)
        if args.handoffs:
            bench_handoffs_part(args)
    finally:
        stop_worker(worker)
    if args.timeline_rounds:
        bench_timeline_cost(args)


def bench_goal(args: argparse.Namespace) -> None:
    """Interleaved rounds on one worker: no-op ReliableTasks, then a burst of pipelines; the best of each."""
    noops: list[float] = []
    runs: list[PipelineRun] = []
    ran: dict[str, int] = defaultdict(int)
    opened = 0
    for _ in range(args.rounds):
        noops.append(bench_noops(bench_noop_reliable, args.noops))
        sessions_before = sessions_opened()
        run, counted = counted_pipelines(args.pipelines, args.sessions)
        opened += sessions_opened() - sessions_before
        runs.append(run)
        for name, n in counted.items():
            ran[name] += n
    pipelines = args.pipelines * args.rounds
    tasks_per_pipeline = sum(ran.values()) / pipelines
    best_noops, best_pipelines = max(noops), max(run.per_second for run in runs)
    ratio = best_pipelines * tasks_per_pipeline / best_noops
    print(f"no-op ReliableTask:   {best_noops:,.0f} tasks/s (rounds: {', '.join(f'{r:,.0f}' for r in noops)})")
    print(
        f"pipelines:            {best_pipelines:,.1f} /s ({args.pipelines} at once, {args.sessions} sessions each; "
        f"rounds: {', '.join(f'{run.per_second:,.1f}' for run in runs)})"
    )
    print(
        f"tasks per pipeline:   {tasks_per_pipeline:.2f} counted ({', '.join(f'{name} {n / pipelines:.2f}' for name, n in sorted(ran.items()))})"
    )
    print(
        f"ratio (pipelines/s x tasks per pipeline) / no-op tasks/s: {ratio:.2f} (goal >= {GOAL}; "
        f"per round: {', '.join(f'{run.per_second * tasks_per_pipeline / n:.2f}' for run, n in zip(runs, noops, strict=True))})"
    )
    print(f"PostgreSQL sessions opened per pipeline task: {opened / sum(ran.values()):.2f} (pg_stat_database)")
    latencies = [latency for run in runs for latency in run.latencies]
    print(f"latency at saturation ({args.pipelines} at once): {latency_words(latencies)}")  # fmt: skip


def bench_plain_vs_reliable(args: argparse.Namespace) -> None:
    plain, reliable = [], []
    for _ in range(args.plain_rounds):
        plain.append(bench_noops(bench_noop_plain, args.noops))
        reliable.append(bench_noops(bench_noop_reliable, args.noops))
    best_plain, best_reliable = max(plain), max(reliable)
    print(f"no-op plain @shared_task:  {best_plain:,.0f} tasks/s (rounds: {', '.join(f'{r:,.0f}' for r in plain)})")
    print(
        f"no-op ReliableTask:        {best_reliable:,.0f} tasks/s (rounds: {', '.join(f'{r:,.0f}' for r in reliable)})"
    )
    print(f"ratio ReliableTask/plain:  {best_reliable / best_plain:.2f} (target >= 0.9)")


def bench_handoffs_part(args: argparse.Namespace) -> None:
    direct, outboxed = [], []
    for _ in range(max(1, args.rounds)):
        direct.append(bench_handoffs(args.handoffs, outbox=False))
        outboxed.append(bench_handoffs(args.handoffs, outbox=True))
    print(f"hand-off on_commit(.delay): {max(direct):,.0f} /s (rounds: {', '.join(f'{r:,.0f}' for r in direct)})")
    print(f"hand-off outbox:            {max(outboxed):,.0f} /s (rounds: {', '.join(f'{r:,.0f}' for r in outboxed)})")
    print(f"ratio outbox/.delay:        {max(outboxed) / max(direct):.2f}")


def bench_profile(args: argparse.Namespace) -> None:
    """`--profile` pipelines on a worker that counts per task (bench/pipeline_profile.py); prints a row per task."""
    with tempfile.TemporaryDirectory(prefix="pipeline-profile-") as directory:
        extra = {"BENCH_PROFILE_DIR": directory, **({"BENCH_CPROFILE": "1"} if args.cprofile else {})}
        worker = start_worker(args.concurrency, extra_env=extra, include="bench.pipeline_tasks,bench.pipeline_profile")
        try:
            bench_noops(bench_noop_plain, 200)  # warm up the pool processes
            for path in Path(directory).glob("*"):
                path.unlink()  # the warm-up's counts
            run, _ = counted_pipelines(args.profile, args.sessions)
        finally:
            stop_worker(worker)
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for path in Path(directory).glob("*[0-9].json"):
            for name, counts in json.loads(path.read_text()).items():
                if name.startswith("bench."):
                    continue  # the warm-up
                for key, value in counts.items():
                    totals[name][key] += value
        print_profile(totals, pipelines=args.profile, per_second=run.per_second)
        if args.profile_sql:
            samples: dict[str, list[str]] = {}
            for path in Path(directory).glob("*.sql.json"):
                samples.update(json.loads(path.read_text()))
            for name, statements in sorted(samples.items()):
                print(f"statements of one {name}:", *(f"  {sql}" for sql in statements), sep="\n")
        profiles = [str(path) for path in Path(directory).glob("*.prof")]
        if profiles:
            stats = pstats.Stats(*profiles)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(60)


def print_profile(totals: dict[str, dict[str, float]], *, pipelines: int, per_second: float) -> None:
    from bench.pipeline_profile import COUNTERS

    columns = [c for c in COUNTERS if c != "tasks"]
    print(f"profile: {pipelines} pipelines at once on the profiling worker, {per_second:,.1f} /s; per task, mean:")
    print("| task | tasks | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * (len(columns) + 1))
    per_pipeline: dict[str, float] = defaultdict(float)
    for name, counts in sorted(totals.items(), key=lambda item: -item[1]["ms"]):
        n = counts["tasks"]
        cells = " | ".join(f"{counts.get(c, 0) / n:.2f}" for c in columns)
        print(f"| {name} | {n:.0f} | {cells} |")
        for c in columns:
            per_pipeline[c] += counts.get(c, 0) / pipelines
    print("| per pipeline | " + f"{sum(c['tasks'] for c in totals.values()) / pipelines:.2f} | "
          + " | ".join(f"{per_pipeline[c]:.2f}" for c in columns) + " |")  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)


def bench_timeline_cost(args: argparse.Namespace) -> None:
    """Pipelines/s with the payment timeline off and on: a fresh worker each round, interleaved."""
    from apps.timeline.models import TimelineEvent
    from apps.timeline.recorder import timeline_flush

    rates: dict[bool, list[float]] = {False: [], True: []}
    events_before = TimelineEvent.objects.count()  # the earlier parts' pipelines recorded theirs
    for _ in range(args.timeline_rounds):
        for enabled in (False, True):
            settings.TIMELINE_ENABLED = enabled  # this process publishes the first step of each pipeline
            worker = start_worker(args.concurrency, timeline=enabled)
            try:
                bench_noops(bench_noop_plain, 200)  # warm up the pool processes
                rates[enabled].append(bench_pipelines(args.pipelines, args.sessions).per_second)
            finally:
                stop_worker(worker)  # a clean stop flushes the worker's buffered events
            timeline_flush()
    off, on = max(rates[False]), max(rates[True])
    print(f"pipelines, timeline off: {off:,.1f} /s (rounds: {', '.join(f'{r:,.1f}' for r in rates[False])})")
    print(f"pipelines, timeline on:  {on:,.1f} /s (rounds: {', '.join(f'{r:,.1f}' for r in rates[True])})")
    print(f"ratio timeline on/off:   {on / off:.2f} (target >= 0.9)")
    per_pipeline = (TimelineEvent.objects.count() - events_before) / (args.pipelines * args.timeline_rounds)
    print(f"timeline events per pipeline: {per_pipeline:.1f}")


if __name__ == "__main__":
    main()
