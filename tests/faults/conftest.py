from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, connections


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


@pytest.fixture
def exhausted_pool() -> Callable[..., object]:
    @contextmanager
    def exhausted(*, timeout: float = 0.5) -> Iterator[None]:
        with small_pool(max_size=2, timeout=timeout), connections_held(2):
            yield

    return exhausted
