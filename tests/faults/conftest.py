from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support.pools import connections_held, small_pool


@pytest.fixture
def exhausted_pool() -> Callable[..., object]:
    @contextmanager
    def exhausted(*, timeout: float = 0.5) -> Iterator[None]:
        with small_pool(max_size=2, timeout=timeout), connections_held(2):
            yield

    return exhausted
