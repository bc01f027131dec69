from __future__ import annotations

import time

import pytest
from django.db import connection

from apps.web.deadline import DeadlineExceeded, _StatementTimeoutCap
from lib.context import reset_deadline, set_deadline
from lib.db import current_statement_timeout

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.web.urls_deadline")]


def test_a_query_is_cancelled_by_the_database_when_the_budget_runs_out(client, settings):
    settings.REQUEST_TIMEOUT = 0.5
    started = time.monotonic()

    response = client.get("/sleep/5")

    assert response.status_code == 504
    assert response.json()["error"]["code"] in {"db_statement_timeout", "deadline_exceeded"}
    assert time.monotonic() - started < 1.5


def test_the_remaining_budget_caps_the_statement_timeout(client, settings):
    settings.REQUEST_TIMEOUT = 2.0

    timeout = client.get("/timeout").json()["statement_timeout"]

    assert timeout.endswith("ms")
    assert 1000 < int(timeout.removesuffix("ms")) <= 2000


def test_a_view_with_its_own_deadline_keeps_the_default_statement_timeout(client, settings):
    settings.REQUEST_TIMEOUT = 2.0

    timeout = client.get("/report").json()["statement_timeout"]

    assert timeout == "30s"


def test_the_connection_goes_back_with_its_default_timeout(client, settings):
    settings.REQUEST_TIMEOUT = 2.0
    client.get("/timeout")

    connection.close()

    assert current_statement_timeout() == "30s"


def test_a_query_after_the_deadline_is_not_sent_at_all():
    token = set_deadline(-0.001)
    try:
        with (
            pytest.raises(DeadlineExceeded),
            connection.execute_wrapper(_StatementTimeoutCap()),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
    finally:
        reset_deadline(token)


def test_capping_and_restoring_the_timeout_adds_no_query_to_the_request(client, settings):
    from django.test.utils import CaptureQueriesContext

    settings.REQUEST_TIMEOUT = 2.0  # far enough below the 30 s default that the cap applies
    with CaptureQueriesContext(connection) as queries:
        client.get("/timeout")

    assert [query["sql"] for query in queries] == ["SELECT 1", "SHOW statement_timeout"]
