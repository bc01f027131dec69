"""Pipeline throughput on a real worker, and the cost of the retry/dead-letter base class.

    make bench ARGS=pipeline                    # 300 pipelines, 3000 no-op tasks each way
    make bench ARGS="pipeline --pipelines 500 --noops 5000 --concurrency 2"

1. End to end: N succeeded payments, each taken through purchase, allocation,
   sessions and notify by one worker (all queues), timed from the first
   enqueue to the last session written.
2. No-op tasks through ReliableTask vs a plain @shared_task with the same
   options (acks_late, reject_on_worker_lost, ignore_result), same worker,
   same run, interleaved rounds; prints tasks/s and the ratio.
3. The payment timeline's cost: the same end-to-end pipelines with the
   timeline off (TIMELINE_ENABLED=0 in this process and a fresh worker) and
   on, interleaved rounds in one run; prints pipelines/s each way and the
   ratio (target >= 0.9).
4. Hand-offs: a ReliableTask no-op enqueued from a committing transaction
   through the outbox (INSERT, publish after commit, DELETE) vs the old
   `transaction.on_commit(task.delay)`, each in a transaction that writes one
   row, interleaved rounds; prints the committing side's hand-offs/s and the
   ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ.setdefault("CELERY_BROKER_KEY_PREFIX", f"bench-{uuid.uuid4().hex[:8]}:")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Count  # noqa: E402

from apps.tutoring.models import TutoringSession  # noqa: E402
from bench.pipeline_tasks import COUNTER_KEY, bench_noop_plain, bench_noop_reliable  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402


def start_worker(concurrency: int, *, timeline: bool = True) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPS_PROCESS_KIND": "worker",
        "LOG_LEVEL": "WARNING",
        "TIMELINE_ENABLED": "1" if timeline else "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", ",".join(settings.WORKER_QUEUES),
         "--pool", "prefork", "--concurrency", str(concurrency), "--prefetch-multiplier", "4", "--include", "bench.pipeline_tasks",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip


def bench_pipelines(count: int, sessions: int) -> float:
    from apps.pipeline.services import pipeline_start_for_payment
    from tests.factories import CourseFactory, PaymentFactory, StudentFactory, TrainerFactory

    course = CourseFactory(sessions_per_purchase=sessions)
    for _ in range(5):
        TrainerFactory(capacity=count).courses.add(course)
    payments = [PaymentFactory(course=course, student=StudentFactory()) for _ in range(count)]
    ids = [p.id for p in payments]

    def complete() -> int:
        return (
            TutoringSession.objects.filter(allocation__purchase__payment_id__in=ids)
            .values("allocation")
            .annotate(n=Count("id"))
            .filter(n=sessions)
            .count()
        )

    started = time.perf_counter()
    for payment_id in ids:
        pipeline_start_for_payment(payment_id=payment_id)
    wait_until(lambda: complete() == count, timeout=600, interval=0.02)
    return count / (time.perf_counter() - started)


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
    parser.add_argument("--pipelines", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--noops", type=int, default=3000)
    parser.add_argument("--handoffs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeline-rounds", type=int, default=2, help="rounds of pipelines with the timeline off/on")
    args = parser.parse_args()

    call_command("migrate", "--no-input", verbosity=0)
    call_command("flush", "--no-input", verbosity=0)  # the bench profile's database outlives a run
    worker = start_worker(args.concurrency)
    try:
        bench_noops(bench_noop_plain, 200)  # warm up the pool processes
        pipelines = bench_pipelines(args.pipelines, args.sessions)
        print(f"pipelines: {args.pipelines} end to end ({args.sessions} sessions each): {pipelines:,.1f} /s")
        plain, reliable = [], []
        for _ in range(args.rounds):
            plain.append(bench_noops(bench_noop_plain, args.noops))
            reliable.append(bench_noops(bench_noop_reliable, args.noops))
        best_plain, best_reliable = max(plain), max(reliable)
        print(f"no-op plain @shared_task:  {best_plain:,.0f} tasks/s (rounds: {', '.join(f'{r:,.0f}' for r in plain)})")
        print(
            f"no-op ReliableTask:        {best_reliable:,.0f} tasks/s (rounds: {', '.join(f'{r:,.0f}' for r in reliable)})"
        )
        print(f"ratio ReliableTask/plain:  {best_reliable / best_plain:.2f} (target >= 0.9)")
        direct, outboxed = [], []
        for _ in range(args.rounds):
            direct.append(bench_handoffs(args.handoffs, outbox=False))
            outboxed.append(bench_handoffs(args.handoffs, outbox=True))
        print(f"hand-off on_commit(.delay): {max(direct):,.0f} /s (rounds: {', '.join(f'{r:,.0f}' for r in direct)})")
        print(
            f"hand-off outbox:            {max(outboxed):,.0f} /s (rounds: {', '.join(f'{r:,.0f}' for r in outboxed)})"
        )
        print(f"ratio outbox/.delay:        {max(outboxed) / max(direct):.2f}")
    finally:
        stop_worker(worker)
    bench_timeline_cost(args)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)


def bench_timeline_cost(args: argparse.Namespace) -> None:
    """Pipelines/s with the payment timeline off and on: a fresh worker each round, interleaved."""
    from apps.timeline.models import TimelineEvent
    from apps.timeline.recorder import timeline_flush

    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.timeline_rounds):
        for enabled in (False, True):
            settings.TIMELINE_ENABLED = enabled  # this process publishes the first step of each pipeline
            worker = start_worker(args.concurrency, timeline=enabled)
            try:
                bench_noops(bench_noop_plain, 200)  # warm up the pool processes
                rates[enabled].append(bench_pipelines(args.pipelines, args.sessions))
            finally:
                stop_worker(worker)  # a clean stop flushes the worker's buffered events
            timeline_flush()
    off, on = max(rates[False]), max(rates[True])
    print(f"pipelines, timeline off: {off:,.1f} /s (rounds: {', '.join(f'{r:,.1f}' for r in rates[False])})")
    print(f"pipelines, timeline on:  {on:,.1f} /s (rounds: {', '.join(f'{r:,.1f}' for r in rates[True])})")
    print(f"ratio timeline on/off:   {on / off:.2f} (target >= 0.9)")
    per_pipeline = TimelineEvent.objects.count() / (args.pipelines * args.timeline_rounds)
    print(f"timeline events per pipeline: {per_pipeline:.1f}")


if __name__ == "__main__":
    main()
