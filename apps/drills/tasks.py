"""The drills that run on a worker: they outlive the page and the web process, and end by themselves."""

from __future__ import annotations

from celery import shared_task

from apps.drills import effects
from apps.workers.retry import ReliableTask, TransientTaskError


@shared_task(name="drills.hold_pool", ignore_result=True)
def hold_pool(seconds: float) -> int:
    return effects.pool_hold(seconds=seconds)


@shared_task(name="drills.slow_statement", ignore_result=True)
def slow_statement(seconds: float) -> None:
    effects.statement_past_timeout(seconds=seconds)


@shared_task(name="drills.payment_burst", ignore_result=True)
def payment_burst(count: int) -> int:
    return effects.payment_burst(count=count)


@shared_task(base=ReliableTask, name="drills.poison", ignore_result=True)
def poison(marker: str) -> None:
    raise TransientTaskError(f"fault drill {marker}: this task fails on every attempt")
