"""Real PostgreSQL sessions for the database page's tests: a long query, a lock holder and its waiter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from tests.support.processes import session_database_url


class Session:
    """A connection of its own (not Django's pool) running one statement on a thread."""

    def __init__(self, application_name: str) -> None:
        self.connection = psycopg.connect(session_database_url(), application_name=application_name, autocommit=True)
        self.pid: int = self.connection.info.backend_pid
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def run(self, sql: str) -> None:
        def target() -> None:
            try:
                self.connection.execute(sql)
            except psycopg.Error as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def wait(self, timeout: float = 10) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the statement did not end"

    def close(self) -> None:
        # A statement still running is cancelled, and its thread is let go of the connection before it is closed:
        # closing a psycopg connection another thread is executing on crashes the process (seen once: SIGSEGV).
        if self.thread is not None and self.thread.is_alive():
            self.connection.cancel_safe(timeout=2)
            self.thread.join(10)
            assert not self.thread.is_alive(), "the cancelled statement did not end"
        self.connection.close()


@contextmanager
def session(application_name: str) -> Iterator[Any]:
    opened = Session(application_name)
    try:
        yield opened
    finally:
        opened.close()
