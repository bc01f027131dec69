from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from lib.db import current_statement_timeout, statement_timeout

pytestmark = pytest.mark.django_db


def test_every_pooled_connection_carries_the_default_statement_timeout(settings):
    assert current_statement_timeout() == f"{settings.DB_STATEMENT_TIMEOUT // 1000}s"


def test_the_connection_names_its_process_kind_for_pg_stat_activity():
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == "ops-console:test"


def test_a_report_runs_under_the_longer_report_timeout_by_default():
    with statement_timeout():
        assert current_statement_timeout() == "2min"


def test_the_report_timeout_ends_with_its_block(settings):
    with statement_timeout(5_000):
        assert current_statement_timeout() == "5s"

    assert current_statement_timeout() == f"{settings.DB_STATEMENT_TIMEOUT // 1000}s"


def test_a_statement_past_the_explicit_timeout_is_cancelled():
    with (
        pytest.raises(OperationalError, match="statement timeout"),
        statement_timeout(100),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(2)")


def test_a_timeout_below_one_millisecond_is_refused():
    with pytest.raises(ValueError, match="at least 1 ms"), statement_timeout(0):
        pass


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_timeout_is_set_in_one_query_and_ends_with_its_own_transaction(settings):
    with CaptureQueriesContext(connection) as queries, statement_timeout(5_000):
        assert current_statement_timeout() == "5s"

    # One set_config: nothing puts the old value back by hand.
    assert len([query for query in queries.captured_queries if "set_config" in query["sql"]]) == 1
    assert current_statement_timeout() == f"{settings.DB_STATEMENT_TIMEOUT // 1000}s"
