from __future__ import annotations

import pytest
from django.test import Client

from apps.console import database
from apps.console.models import OperatorAction
from apps.console.shared_cache import shared_reading_forget
from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from lib import metrics
from tests.console.backends import session
from tests.factories import StaffUserFactory
from tests.support.pools import HOLD_S, hold_then_wait, small_pool
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def quick(settings):
    settings.CONSOLE_LONG_QUERY_SECONDS = 0.2
    settings.CONSOLE_DB_ACTIVITY_CACHE = 0.1
    settings.CONSOLE_DB_ACTIVITY_TIMEOUT = 5000  # a loaded test machine must not time the readings out


def _listed(pid: int, section: str = "long_queries") -> bool:
    shared_reading_forget("db-activity")
    rows = database.database_activity_read()[section] or []
    return any(row["pid"] == pid for row in rows)


def test_the_page_shows_the_budget_pools_activity_locks_indexes_and_tables(staff_client):
    page = staff_client.get("/ops/database").content.decode()

    for anchor in ("budget", "pools", "activity", "long-queries", "locks", "indexes", "tables", "statements"):
        assert f'id="{anchor}"' in page
    assert "No query has run longer than" in page
    assert "No backend is waiting on a lock — good." in page


def test_the_json_twin_carries_what_the_page_shows(staff_client):
    body = staff_client.get("/api/ops/database").json()

    assert set(body) >= {"overview", "pools", "budget", "activity", "stats"}
    assert body["activity"]["server"]["max_connections"] > 0
    assert staff_client.get("/ops/database?format=json", follow=True).json().keys() == body.keys()


@pytest.mark.django_db(transaction=True)
def test_pool_waits_show_as_a_p95_per_process_and_for_the_cluster_from_merged_buckets(staff_client):
    identity, window = identity_here(kind="web"), Window(seconds=0.01)
    snapshot_build(identity=identity, window=window)  # the window starts after what earlier tests waited
    with small_pool(max_size=1, timeout=5):
        assert hold_then_wait() == []
        ours = snapshot_build(identity=identity, window=window)  # while the small pool is there to report
    # Another process whose 98 checkouts each took under 1 ms: two slow ones in a hundred are not the cluster's p95.
    fast = [98.0] + [0.0] * (len(metrics.LATENCY_BUCKETS_MS) + 1)
    other = {**ours, "id": "web:elsewhere:1", "pid": 1, "pool": {**ours["pool"], "wait_histogram_recent": fast}}
    assert snapshot_publish(ours) and snapshot_publish(other)

    body = staff_client.get("/api/ops/database").json()

    rows = {row["process"]: row for row in body["pools"]}
    assert rows[ours["id"]]["checkouts"] == 2
    assert rows[ours["id"]]["p95_wait_ms"] >= HOLD_S * 1000 * 0.6
    assert rows["web:elsewhere:1"]["p95_wait_ms"] == 1.0
    assert body["pool_totals"]["checkouts"] == 100
    assert body["pool_totals"]["p95_wait_ms"] == 1.0
    assert "≤ 1 ms" in staff_client.get("/ops/database?fragment=live").content.decode()


def test_the_live_fragment_is_the_activity_region_only(staff_client):
    fragment = staff_client.get("/ops/database?fragment=live").content.decode()

    assert 'id="budget"' in fragment and 'id="indexes"' not in fragment and "<html" not in fragment


def test_anonymous_scripts_get_401_and_non_staff_403(member_client):
    assert Client().get("/api/ops/database").status_code == 401
    assert member_client.get("/api/ops/database").status_code == 403


def test_a_long_query_is_listed_with_its_text_duration_and_application(quick):
    with session("test-long-query") as long:
        long.run("SELECT pg_sleep(30) /* long one */")
        wait_until(lambda: _listed(long.pid), timeout=10, what=f"the long query to be listed ({long.error})")

        row = next(r for r in database.database_activity_read()["long_queries"] if r["pid"] == long.pid)

    assert row["application_name"] == "test-long-query"
    assert "pg_sleep(30)" in row["query"] and row["duration_s"] >= 0.2 and row["this_database"]


def test_idle_in_transaction_connections_are_called_out(quick):
    with session("test-idle-in-tx") as idle:
        idle.connection.autocommit = False
        idle.connection.execute("SELECT 1")
        wait_until(lambda: _listed(idle.pid), timeout=10, what="the open transaction to be listed")

        groups = database.database_activity_read()["connections"]

    assert {"application_name": "test-idle-in-tx", "state": "idle in transaction", "count": 1}.items() <= next(
        g for g in groups if g["application_name"] == "test-idle-in-tx"
    ).items()


def test_a_blocked_backend_is_shown_with_the_pid_blocking_it(quick):
    with session("test-holder") as holder, session("test-waiter") as waiter:
        holder.connection.execute("SELECT pg_advisory_lock(424242)")
        waiter.run("SELECT pg_advisory_lock(424242)")
        wait_until(lambda: _listed(waiter.pid, "locks"), timeout=10, what="the waiter to be listed as blocked")

        lock = next(r for r in database.database_activity_read()["locks"] if r["pid"] == waiter.pid)
        holder.connection.execute("SELECT pg_advisory_unlock(424242)")
        waiter.wait()

    assert lock["blocked_by"] == [holder.pid]
    assert lock["blockers"][0]["application_name"] == "test-holder"


def test_cancelling_a_long_query_stops_it_and_is_audited(quick, staff_client):
    with session("test-cancel-me") as long:
        long.run("SELECT pg_sleep(30)")
        wait_until(lambda: _listed(long.pid), timeout=10, what=f"the long query to be listed ({long.error})")

        response = staff_client.post(f"/ops/database/backends/{long.pid}/cancel?format=json", {"confirm": "yes"})
        long.wait()

    assert response.status_code == 200, response.content
    assert "canceling statement due to user request" in str(long.error)
    action = OperatorAction.objects.get(action="database.cancel_backend")
    assert (action.outcome, action.target) == ("succeeded", f"pid {long.pid} (test-cancel-me)")


def test_an_unconfirmed_cancel_asks_first_and_does_nothing(quick, staff_client):
    with session("test-not-yet") as long:
        long.run("SELECT pg_sleep(30)")
        wait_until(lambda: _listed(long.pid), timeout=10, what=f"the long query to be listed ({long.error})")

        json_answer = staff_client.post(f"/ops/database/backends/{long.pid}/cancel?format=json")
        page = staff_client.post(f"/ops/database/backends/{long.pid}/cancel").content.decode()
        still_running = _listed(long.pid)

    assert json_answer.status_code == 409 and json_answer.json()["error"]["confirm"] == "yes"
    assert "Yes, cancel pid" in page and "pg_sleep(30)" in page
    assert still_running and not OperatorAction.objects.exists()


def test_terminating_needs_a_second_confirmation(quick, staff_client):
    with session("test-terminate-me") as long:
        long.run("SELECT pg_sleep(30)")
        wait_until(lambda: _listed(long.pid), timeout=10, what=f"the long query to be listed ({long.error})")

        first = staff_client.post(f"/ops/database/backends/{long.pid}/terminate?format=json", {"confirm": "yes"})
        second = staff_client.post(f"/ops/database/backends/{long.pid}/terminate?format=json", {"confirm": "terminate"})
        long.wait()

    assert first.status_code == 409 and first.json()["error"]["confirm"] == "terminate"
    assert second.status_code == 200 and long.error is not None
    assert OperatorAction.objects.get().action == "database.terminate_backend"


def test_a_pid_now_used_by_another_session_is_refused_and_audited(quick, staff_client):
    with session("test-reused") as long:
        long.run("SELECT pg_sleep(30)")
        wait_until(lambda: _listed(long.pid), timeout=10, what=f"the long query to be listed ({long.error})")

        response = staff_client.post(
            f"/ops/database/backends/{long.pid}/cancel?format=json",
            {"confirm": "yes", "backend_start": "2001-01-01T00:00:00+00:00"},
        )
        still_running = _listed(long.pid)

    assert response.status_code == 409 and response.json()["outcome"] == "refused"
    assert still_running
    assert OperatorAction.objects.get().outcome == "refused"


def test_cancelling_needs_the_cancel_queries_permission(quick):
    from django.contrib.auth.models import Permission

    user = StaffUserFactory(is_superuser=False)
    user.user_permissions.add(Permission.objects.get(codename="view_console"))
    client = Client()
    client.force_login(user)

    response = client.post("/ops/database/backends/1/cancel?format=json", {"confirm": "yes"})

    assert response.status_code == 403 and "cancel_queries" in response.json()["error"]["message"]


def test_a_pid_out_of_range_is_a_400_naming_it(staff_client):
    response = staff_client.post(f"/ops/database/backends/{2**40}/cancel?format=json", {"confirm": "yes"})

    assert response.status_code == 400 and "pid" in response.json()["error"]["fields"]


def test_cancelling_is_post_only(staff_client):
    assert staff_client.get("/ops/database/backends/1/cancel").status_code == 405


def test_a_statement_past_its_timeout_leaves_its_section_empty_and_says_so():
    errors: dict[str, str] = {}

    value = database._section("slow", lambda cursor: cursor.execute("SELECT pg_sleep(2)"), 50, errors)

    assert value is None and errors == {"slow": "timed out after 50 ms"}


def test_indexes_of_our_tables_are_listed_with_where_they_come_from():
    indexes = {i["name"]: i for i in database.database_stats_read()["indexes"]}

    assert indexes["telemetry_samples_name_sampled_idx"]["origin"] == "model"
    assert indexes["console_operator_actions_pkey"]["origin"] == "automatic"
    assert all(i["valid"] for i in indexes.values())


def test_an_index_made_outside_the_models_is_flagged_and_unused(django_db_blocker):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX test_by_hand_idx ON console_operator_actions (target)")

    index = next(i for i in database.database_stats_read()["indexes"] if i["name"] == "test_by_hand_idx")

    assert (index["origin"], index["unused"]) == ("not in code", True)


def test_tables_show_estimated_rows_sizes_and_vacuum_age():
    tables = {t["table"]: t for t in database.database_stats_read()["tables"]}

    payments = tables["payments"]
    assert payments["estimated_rows"] >= 0 and payments["total_bytes"] > 0 and payments["xid_age"] >= 0


def test_without_pg_stat_statements_the_page_says_how_to_enable_it(staff_client):
    statements = database.database_stats_read()["statements"]
    page = staff_client.get("/ops/database").content.decode()

    assert statements["available"] is False
    assert "shared_preload_libraries" in statements["how_to_enable"]
    assert 'data-statements="unavailable"' in page and "CREATE EXTENSION pg_stat_statements" in page


def test_the_page_costs_a_constant_number_of_queries_and_none_once_shared(staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(70):  # 9 bounded statements, each with its SET LOCAL and savepoint
        staff_client.get("/api/ops/database")
    with django_assert_max_num_queries(6):  # the session and user only: every reading comes from the shared cache
        staff_client.get("/api/ops/database")
