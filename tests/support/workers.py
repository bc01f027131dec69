"""Real celery workers, beat and outbox relays, on broker keys no other test (or test session) shares.

On Redis each test publishes and consumes under its own key prefix. On RabbitMQ (CELERY_BROKER_URL=amqp://…, as
`make test-rabbitmq` runs the suite) the session has a virtual host of its own, made and removed by
scripts/devstack.py, and each test starts and ends with the queues of that virtual host emptied (docs/workers.md).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings

from ops_console.celery import app
from tests.support.amqp import amqp_queues_purge
from tests.support.processes import Process, child_env
from tests.support.waiting import wait_until

# Every broker key of this session (queues, unacked messages) lives under this prefix,
# so a concurrent test run sharing the Redis neither takes nor restores our messages.
BROKER_KEY_PREFIX = f"test-workers-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
CHANNEL_PREFIX = f"test-workers-{os.getpid()}"

# Short timeouts so a killed worker's messages come back within seconds (on Redis; RabbitMQ returns them at once).
REDIS_BROKER_ENV = {
    "CELERY_BROKER_KEY_PREFIX": BROKER_KEY_PREFIX,
    "CELERY_VISIBILITY_TIMEOUT": "11",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
}
WORKER_ENV = {
    "OPS_PROCESS_KIND": "worker",
    "LOG_FORMAT": "json",
    **(REDIS_BROKER_ENV if settings.CELERY_BROKER_KIND == "redis" else {}),
    "TASK_RETRY_BACKOFF_BASE": "0.2",
    "TASK_RETRY_BACKOFF_MAX": "1",
    # Inside the visibility timeout (settings refuse less than hard limit + longest backoff).
    "CELERY_TASK_SOFT_TIME_LIMIT": "8",
    "CELERY_TASK_TIME_LIMIT": "10",
    "CHANNEL_LAYER_PREFIX": CHANNEL_PREFIX,
    "DB_POOL_MAX_SIZE": "4",
    "DB_POOL_MIN_SIZE": "0",
}


class Worker(Process):
    """`celery worker` on every queue, in its own process group so SIGKILL takes the pool children with it."""

    def __init__(self, log_path: Path, *, concurrency: int = 2, **env: str) -> None:
        argv = [
            sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", ",".join(settings.WORKER_QUEUES),
            "--pool", "prefork", "--concurrency", str(concurrency), "--prefetch-multiplier", "1",
            "--include", "tests.workers.poison_tasks",
            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        super().__init__(argv, log_path=log_path, env=child_env(**{**WORKER_ENV, **env}), own_group=True)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        super().stop(timeout)
        worker_connections_closed()


def relay(log_path: Path, **env: str) -> Process:
    """`manage.py outbox_relay`, not yet started: publishes the outbox rows whose own publish was lost."""
    env = {**WORKER_ENV, "OPS_PROCESS_KIND": "relay", "OUTBOX_RELAY_INTERVAL": "0.2", **env}
    return Process([sys.executable, "manage.py", "outbox_relay"], log_path=log_path, env=child_env(**env))


def beat(log_path: Path, **env: str) -> Process:
    """`celery beat`, not yet started: the periodic tasks of CELERY_BEAT_SCHEDULE (e.g. telemetry.sample), its
    schedule file beside its log. TELEMETRY_SAMPLE_INTERVAL=1 samples the cluster every second."""
    schedule = log_path.with_suffix(".schedule")
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "ops_console",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(schedule),
    ]
    return Process(argv, log_path=log_path, env=child_env(**{**WORKER_ENV, "OPS_PROCESS_KIND": "beat", **env}))


def worker_connections_closed() -> None:
    """The pool children's database sessions end a moment after the processes; the
    test database can only be dropped once they have. Runs a query per poll."""
    from django.db import connection

    def closed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'ops-console:worker'"
            )
            return cursor.fetchone()[0] == 0

    wait_until(closed, timeout=10, what="worker database sessions to close")


def reset_broker_pools() -> None:
    """Publishers are pooled per connection; drop them so the next publish uses the new options."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def isolated_broker_keys() -> Iterator[str]:
    """Publish under a fresh broker key prefix until the block ends; yields the prefix.

    On RabbitMQ the prefix is "" (CELERY_BROKER_KEY_PREFIX is Redis-only): the session's own virtual host
    separates runs, and emptying its queues before and after the block separates tests.
    """
    if settings.CELERY_BROKER_KIND == "amqp":
        amqp_queues_purge()
        yield ""
        amqp_queues_purge()
        return
    prefix = f"{BROKER_KEY_PREFIX}{uuid.uuid4().hex[:8]}:"
    original = dict(app.conf.broker_transport_options)
    app.conf.broker_transport_options = {**original, "global_keyprefix": prefix}
    reset_broker_pools()
    yield prefix
    app.conf.broker_transport_options = original
    reset_broker_pools()


@pytest.fixture
def isolated_broker() -> Iterator[str]:
    """The test publishes under its own broker key prefix (tests/workers makes this autouse)."""
    with isolated_broker_keys() as prefix:
        yield prefix


@pytest.fixture
def start_worker(tmp_path, isolated_broker) -> Iterator:
    """start_worker(**env) -> a running Worker on the test's broker keys; every worker is stopped after the test."""
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        env = {"CELERY_BROKER_KEY_PREFIX": isolated_broker, **env}
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", **env)
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def start_beat(tmp_path, isolated_broker) -> Iterator:
    """start_beat(**env) -> a running celery beat, publishing under the test's broker keys; stopped after."""
    beats: list[Process] = []

    def start(**env: str) -> Process:
        process = beat(tmp_path / f"beat-{len(beats)}.log", CELERY_BROKER_KEY_PREFIX=isolated_broker, **env)
        beats.append(process)
        process.start()
        return process

    yield start
    for process in beats:
        process.stop()


@pytest.fixture
def start_relay(tmp_path, isolated_broker) -> Iterator:
    """start_relay(**env) -> a running outbox relay, publishing under the test's broker keys; stopped after."""
    relays: list[Process] = []

    def start(**env: str) -> Process:
        process = relay(tmp_path / f"relay-{len(relays)}.log", CELERY_BROKER_KEY_PREFIX=isolated_broker, **env)
        relays.append(process)
        process.start()
        return process

    yield start
    for process in relays:
        process.stop()
