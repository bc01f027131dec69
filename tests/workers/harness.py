"""A real Celery worker for tests, on broker keys no other test session shares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.servers import ROOT, child_env

# Every broker key of this session (queues, unacked messages) lives under this prefix,
# so a concurrent test run sharing the Redis neither takes nor restores our messages.
BROKER_KEY_PREFIX = f"test-workers-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
CHANNEL_PREFIX = f"test-workers-{os.getpid()}"
ALL_QUEUES = "default,purchases,allocations,sessions,cache"

# Short timeouts so a killed worker's messages come back within seconds.
WORKER_ENV = {
    "OPS_PROCESS_KIND": "worker",
    "LOG_FORMAT": "json",
    "CELERY_BROKER_KEY_PREFIX": BROKER_KEY_PREFIX,
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "CELERY_TASK_SOFT_TIME_LIMIT": "3",
    "CELERY_TASK_TIME_LIMIT": "4",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "TASK_RETRY_BACKOFF_BASE": "0.2",
    "TASK_RETRY_BACKOFF_MAX": "1",
    "CHANNEL_LAYER_PREFIX": CHANNEL_PREFIX,
    "DB_POOL_MAX_SIZE": "4",
    "DB_POOL_MIN_SIZE": "0",
}


class Worker:
    """`celery worker` in its own process group, so SIGKILL takes the pool children with it."""

    def __init__(self, log_path: Path, *, concurrency: int = 2, **env: str) -> None:
        self.log_path = log_path
        self.concurrency = concurrency
        self.env = {**WORKER_ENV, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", ALL_QUEUES,
                 "--pool", "prefork", "--concurrency", str(self.concurrency), "--prefetch-multiplier", "1",
                 "--include", "tests.workers.poison_tasks",
                 "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=ROOT,
                env=child_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no acks, messages left unacknowledged."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _wait_for_worker_connections_to_close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Relay:
    """`manage.py outbox_relay`: publishes the outbox rows whose own publish was lost."""

    def __init__(self, log_path: Path, **env: str) -> None:
        self.log_path = log_path
        self.env = {**WORKER_ENV, "OPS_PROCESS_KIND": "relay", "OUTBOX_RELAY_INTERVAL": "0.2", **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Relay:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "outbox_relay"],
                cwd=ROOT,
                env=child_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_for_worker_connections_to_close() -> None:
    """The pool children's database sessions end a moment after the processes; the
    test database can only be dropped once they have."""
    from django.db import connection

    def closed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'ops-console:worker'"
            )
            return cursor.fetchone()[0] == 0

    wait_until(closed, timeout=10, what="worker database sessions to close")


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)
