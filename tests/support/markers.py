"""Keeps the `slow` marker honest: a test that starts a process without it fails.

`-m 'not slow'` is the fast inner loop; it must not start servers, workers or manage.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import processes


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    processes.running_test = (item.nodeid, item.get_closest_marker("slow") is not None)
    try:
        return (yield)
    finally:
        processes.running_test = None
