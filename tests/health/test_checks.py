"""Readiness checks stay inside their bound and leave nothing broken behind."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection
from django.db.backends.utils import CursorWrapper
from health_check.exceptions import ServiceUnavailable

from apps.health.checks import PostgresCheck

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hung_check_runs_once_however_often_readiness_is_asked(client, settings, monkeypatch):
    settings.HEALTH_CHECK_TIMEOUT = 0.2
    release, runs = threading.Event(), []

    def hang(self):
        runs.append(threading.current_thread().name)
        release.wait(timeout=10)

    monkeypatch.setattr(PostgresCheck, "run", hang)
    try:
        answers = [client.get("/ready") for _ in range(3)]
    finally:
        release.set()

    assert all(answer["duration_ms"] < 200 + 100 for answer in (a.json()["checks"]["postgres"] for a in answers))
    assert [answer.json()["failing"] for answer in answers] == [["postgres"]] * 3
    assert answers[0].json()["checks"]["postgres"]["error"] == "Unavailable: timed out after 0.2 s"
    assert len(runs) == 1  # the later requests waited on the stuck run instead of starting threads of their own


def test_a_connection_that_failed_its_check_is_dropped_from_the_pool(monkeypatch):
    def fail(self, sql, params=None):
        raise DatabaseError("the server went away")

    monkeypatch.setattr(CursorWrapper, "execute", fail)
    dropped_before = connection.pool.get_stats().get("returns_bad", 0)
    raised: list[BaseException] = []

    def run_check() -> None:  # in a thread of its own, as readiness runs it
        try:
            PostgresCheck().run()
        except ServiceUnavailable as exc:
            raised.append(exc)

    thread = threading.Thread(target=run_check)
    thread.start()
    thread.join(timeout=10)

    assert [str(exc) for exc in raised] == ["Unavailable: query failed"]
    assert connection.pool.get_stats().get("returns_bad", 0) == dropped_before + 1
