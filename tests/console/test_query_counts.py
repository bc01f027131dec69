"""The overview's JSON twin costs the database the same whatever the size of the tables behind it,
and an open dashboard, in steady state, costs only the overview's 2-s part."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.telemetry.freshness import sample_marker_set
from apps.telemetry.models import Alert
from apps.telemetry.reporter import key
from apps.telemetry.selectors import console_overview, overview_forget
from apps.telemetry.services import samples_store
from lib.redis import get_client
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _queries_of_a_fresh_overview(client, path: str) -> int:
    overview_forget()  # computed afresh, its slow parts too
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def _more_of_everything() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO dead_letters (task_id, task_name, queue, args, kwargs, reason, exception_class, message,"
            " traceback, attempts, deliveries, failures, correlation_id, status, replayed_task_id, replay_count,"
            " first_failed_at, last_failed_at)"
            " SELECT 'q-' || g, 'q.task', 'default', jsonb_build_array(g), '{}'::jsonb, 'permanent', 'ValueError', 'm', '',"
            " 1, 1, 1, '', 'new', '', 0, now(), now() FROM generate_series(1, 300) g"
        )
    PaymentFactory.create_batch(20)
    now = timezone.now()
    Alert.objects.create(rule="beat_missing", since=now, summary="beat is not reporting")
    Alert.objects.create(rule="queue_age", since=now, summary="oldest queued task waiting 200 s")
    for n in range(40):
        samples_store(
            series={"http.rps": float(n), "db_pool.in_use": 1.0}, sampled_at=now - datetime.timedelta(seconds=30 * n)
        )


@pytest.mark.parametrize("path", ["/api/ops/overview", "/api/ops/overview?range=24h", "/api/ops/overview?range=7d"])
def test_the_overview_twin_runs_the_same_few_queries_however_much_data_there_is(staff_client, path):
    staff_client.get(path)  # the session and the user, as every later request finds them
    empty = _queries_of_a_fresh_overview(staff_client, path)

    _more_of_everything()
    full = _queries_of_a_fresh_overview(staff_client, path)

    assert full == empty
    assert full <= 17  # session, user, statement timeouts, the overview's reads, one history read


def test_a_cached_overview_runs_no_telemetry_query(staff_client):
    staff_client.get("/api/ops/overview")
    fresh = _queries_of_a_fresh_overview(staff_client, "/api/ops/overview")

    with CaptureQueriesContext(connection) as cached:
        staff_client.get("/api/ops/overview")

    assert len(cached) < fresh
    assert [
        q["sql"] for q in cached.captured_queries if "pg_stat_activity" in q["sql"] or "FROM dead_letters" in q["sql"]
    ] == []


SLOW_TABLES = ("dead_letters", "telemetry_alerts", "telemetry_samples", "telemetry_rollups")


def _the_2_s_copy_expires() -> None:
    get_client("write").delete(key("overview"), key("overview", "computing"))


def _dead_letters(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO dead_letters (task_id, task_name, queue, args, kwargs, reason, exception_class, message,"
            " traceback, attempts, deliveries, failures, correlation_id, status, replayed_task_id, replay_count,"
            " first_failed_at, last_failed_at)"
            " SELECT 'c-' || g, 'q.task', 'default', jsonb_build_array(g), '{}'::jsonb, 'permanent', 'ValueError', 'm', '',"
            " 1, 1, 1, '', 'new', '', 0, now(), now() FROM generate_series(1, %s) g",
            [count],
        )


def test_a_steady_state_overview_reads_only_the_connections_three_statements():
    sample_marker_set(sampled_at=timezone.now())
    console_overview()  # the slow parts are read once for this sample
    _the_2_s_copy_expires()

    with CaptureQueriesContext(connection) as queries:
        console_overview()

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]  # the test's transaction
    assert len(statements) == 3  # statement timeout set, pg_stat_activity, timeout restored
    assert [sql for sql in statements if any(table in sql for table in SLOW_TABLES)] == []


def test_a_steady_state_overview_twin_reads_no_history_and_no_totals(staff_client):
    staff_client.get("/api/ops/overview")  # the session, the user, the slow parts and the history, once
    _the_2_s_copy_expires()

    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get("/api/ops/overview").status_code == 200

    assert [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in SLOW_TABLES)] == []


def test_dead_letters_between_samples_show_with_the_next_sample():
    sample_marker_set(sampled_at=timezone.now() - datetime.timedelta(seconds=30))
    assert console_overview()["tiles"]["dead_letters"]["new"] == 0
    _dead_letters(3)
    _the_2_s_copy_expires()
    assert console_overview()["tiles"]["dead_letters"]["new"] == 0  # read with the previous sample

    sample_marker_set(sampled_at=timezone.now())
    _the_2_s_copy_expires()
    overview = console_overview()

    assert overview["tiles"]["dead_letters"]["new"] == 3
    assert overview["totals_age_s"] < 5


def test_the_overview_says_how_old_its_slow_parts_are():
    sample_marker_set(sampled_at=timezone.now())
    first = console_overview()
    _the_2_s_copy_expires()

    later = console_overview()

    assert later["totals_read_at"] == first["totals_read_at"]
    assert later["totals_age_s"] >= first["totals_age_s"]
