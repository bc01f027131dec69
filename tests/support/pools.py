"""A small default pool for a test, and connections held by other threads: real pool waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, connections

HOLD_S = 0.4  # how long hold_then_wait's first thread keeps the connection


@contextmanager
def small_pool(*, max_size: int, timeout: float) -> Iterator[None]:
    """Swap the default pool for a small one with a short wait, then put the real one back."""
    options = connection.settings_dict["OPTIONS"]
    original = options["pool"]
    connection.close()
    connection.close_pool()
    options["pool"] = {**original, "min_size": 0, "max_size": max_size, "timeout": timeout}
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()
        options["pool"] = original


@contextmanager
def checked_pool() -> Iterator[None]:
    """A default pool of one connection that checks what it hands out (a worker's DB_POOL_CHECK), then the real one."""
    settings_dict = connection.settings_dict
    original_checks = settings_dict["CONN_HEALTH_CHECKS"]
    settings_dict["CONN_HEALTH_CHECKS"] = True
    try:
        with small_pool(max_size=1, timeout=5):
            yield
    finally:
        settings_dict["CONN_HEALTH_CHECKS"] = original_checks


@contextmanager
def connections_held(count: int) -> Iterator[None]:
    """Borrow `count` pooled connections from other threads until the block ends."""
    release = threading.Event()
    ready = threading.Barrier(count + 1, timeout=10)

    def hold() -> None:
        conn = connections["default"]
        conn.ensure_connection()
        ready.wait()
        release.wait(timeout=30)
        conn.close()

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    try:
        yield
    finally:
        release.set()
        for thread in threads:
            thread.join()


def hold_then_wait() -> list[BaseException]:
    """Thread one holds the only connection for HOLD_S; thread two asks for one meanwhile. Errors are returned."""
    held, errors = threading.Event(), []

    def holder() -> None:
        connections["default"].ensure_connection()
        held.set()
        time.sleep(HOLD_S)
        connections["default"].close()

    def waiter() -> None:
        held.wait(timeout=10)
        try:
            connections["default"].ensure_connection()
        except OperationalError as exc:
            errors.append(exc)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    return errors
