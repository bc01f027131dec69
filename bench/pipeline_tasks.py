"""The benchmark's no-op tasks: the same options, with and without the retry/dead-letter base."""

from __future__ import annotations

from celery import shared_task

from apps.workers.retry import ReliableTask
from lib.redis import get_client

COUNTER_KEY = "bench:pipeline:noops"
OPTIONS = {"ignore_result": True, "acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="bench.noop_plain", **OPTIONS)
def bench_noop_plain() -> None:
    get_client("write").incr(COUNTER_KEY)


@shared_task(base=ReliableTask, name="bench.noop_reliable", **OPTIONS)
def bench_noop_reliable() -> None:
    get_client("write").incr(COUNTER_KEY)
