"""The overview's JSON twin costs the database the same whatever the size of the tables behind it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.telemetry.models import Alert
from apps.telemetry.reporter import key
from apps.telemetry.services import samples_store
from lib.redis import get_client
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _queries_of_a_fresh_overview(client, path: str) -> int:
    get_client("write").delete(key("overview"), key("overview", "computing"))  # computed afresh, not cached
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
    assert full <= 15  # session, user, statement timeouts, the overview's reads, one history read


def test_a_cached_overview_runs_no_telemetry_query(staff_client):
    staff_client.get("/api/ops/overview")
    fresh = _queries_of_a_fresh_overview(staff_client, "/api/ops/overview")

    with CaptureQueriesContext(connection) as cached:
        staff_client.get("/api/ops/overview")

    assert len(cached) < fresh
    assert [
        q["sql"] for q in cached.captured_queries if "pg_stat_activity" in q["sql"] or "FROM dead_letters" in q["sql"]
    ] == []
