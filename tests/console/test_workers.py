from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.console import workers
from apps.console.models import OperatorAction
from apps.telemetry.reporter import key, snapshot_publish
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def worker_snapshot(*, pid: int, reported_at: float, **worker: object) -> dict[str, object]:
    """A worker main process's snapshot as the reporter publishes it."""
    return {
        "id": f"worker:test-host:{pid}", "kind": "worker", "host": "test-host", "pid": pid,
        "group": f"test-host:{pid}", "version": "dev", "started_at": "2026-01-01T00:00:00+00:00",
        "reported_at": reported_at, "interval_s": 5, "window_s": 10.0, "pool": None,
        "tasks": {"by_name": {}, "recent_by_name": {}, "recent": {}, "per_s": 0.0},
        "published": {"total": {}, "recent": {}},
        "worker": {"nodename": f"celery@{pid}", "queues": ["default"], "concurrency": 2, "reserved": 0, "active": [], **worker},
    }  # fmt: skip


def test_the_page_shows_workers_beat_queues_and_tasks_with_their_empty_states(staff_client):
    page = staff_client.get("/ops/workers").content.decode()

    for anchor in ("workers", "beat", "queues", "tasks", "revoke"):
        assert f'id="{anchor}"' in page
    assert "No worker is reporting" in page and "Beat is not reporting" in page
    assert "No task has run on the live workers since they started." in page


def test_the_json_twin_lists_every_queue(staff_client, settings):
    body = staff_client.get("/api/ops/workers").json()

    assert [q["name"] for q in body["queues"]] == list(settings.WORKER_QUEUES)
    assert set(body) >= {"overview", "workers", "beat", "queues", "tasks", "history"}


def test_a_worker_that_stops_reporting_is_marked_lost_not_dropped(settings):
    snapshot = worker_snapshot(pid=4242, reported_at=time.time() - 30)
    assert snapshot_publish(snapshot)
    from lib.redis import get_client

    get_client("write").delete(key("process", snapshot["id"]))  # its snapshot expired: it stopped reporting

    rows = workers.workers_lost([], now=time.time())

    assert [(r["group"], r["state"], r["nodename"]) for r in rows] == [("test-host:4242", "lost", "celery@4242")]
    assert rows[0]["heartbeat_age_s"] >= 30


def test_a_live_worker_shows_its_queues_concurrency_and_running_tasks():
    now = time.time()
    active = [{"id": "t-1", "name": "purchases.create", "started_at": now - 3, "child_pid": 7}]

    row = workers.workers_live([worker_snapshot(pid=1, reported_at=now, active=active)], now=now)[0]

    assert (row["state"], row["queues"], row["concurrency"]) == ("alive", ["default"], 2)
    assert row["active"][0]["name"] == "purchases.create" and row["active"][0]["runtime_s"] == pytest.approx(3, abs=0.5)


def test_queue_rates_come_from_publishes_and_completions_over_the_window():
    snapshot = worker_snapshot(pid=1, reported_at=time.time())
    snapshot["published"] = {"total": {}, "recent": {"purchases": 20}}
    snapshot["tasks"]["recent_by_name"] = {"purchases.create": {"succeeded": 8, "failed": 2, "retried": 1}}  # type: ignore[index]

    rows = {q["name"]: q for q in workers.queue_rows([snapshot], [], paused={})}

    assert rows["purchases"]["enqueued_per_s"] == 2.0 and rows["purchases"]["completed_per_s"] == 1.0
    assert rows["purchases"]["failure_rate"] == 0.2


def test_a_beat_entry_overdue_is_flagged_late():
    now = time.time()
    beat = {"id": "beat:h:1", "kind": "beat", "beat": {"entries": [
        {"name": "on-time", "next_run_at": now + 10}, {"name": "overdue", "next_run_at": now - 60}]}}  # fmt: skip

    entries = {e["name"]: e["late"] for e in workers.beat_entries([beat], now=now)["entries"]}

    assert entries == {"on-time": False, "overdue": True}


def test_task_percentiles_come_from_the_merged_histograms():
    from lib import metrics

    for value in (5.0, 5.0, 400.0):
        metrics.observe_histogram("test_runtime", value)
    histogram = next(iter(metrics.histograms("test_runtime").values()))
    snapshot = worker_snapshot(pid=1, reported_at=time.time())
    snapshot["tasks"]["by_name"] = {
        "purchases.create": {"succeeded": 3, "failed": 0, "retried": 0, "runtime": histogram}
    }  # type: ignore[index]

    row = workers.task_rows([snapshot, snapshot])[0]

    assert (row["runs"], row["queue"]) == (6, "purchases") and row["p50_ms"] < 10 < 300 < row["p95_ms"]


def test_pausing_an_unknown_queue_is_a_400_and_is_audited_as_refused(staff_client):
    response = staff_client.post(
        "/ops/workers/control?format=json", {"action": "pause", "queue": "nope", "confirm": "yes"}
    )

    assert response.status_code == 400 and "queue must be one of" in response.json()["error"]["message"]
    assert OperatorAction.objects.get().outcome == "refused"


def test_an_unknown_action_is_a_400_naming_it(staff_client):
    response = staff_client.post("/ops/workers/control?format=json", {"action": "explode"})

    assert response.status_code == 400 and response.json()["error"]["fields"] == {"action": "unknown action 'explode'"}


def test_a_control_asks_for_confirmation_first(staff_client):
    response = staff_client.post("/ops/workers/control?format=json", {"action": "pause", "queue": "default"})
    page = staff_client.post("/ops/workers/control", {"action": "pause", "queue": "default"}).content.decode()

    assert response.status_code == 409 and response.json()["error"]["confirm"] == "yes"
    assert "Yes, pause default" in page and not OperatorAction.objects.exists()


def test_controls_need_the_control_workers_permission():
    user = StaffUserFactory(is_superuser=False)
    user.user_permissions.add(Permission.objects.get(codename="view_console"))
    client = Client()
    client.force_login(user)

    response = client.post("/ops/workers/control?format=json", {"action": "resume", "queue": "default"})

    assert response.status_code == 403 and "control_workers" in response.json()["error"]["message"]


def test_a_broadcast_nobody_answers_fails_within_its_timeout_and_is_audited(staff_client, settings, isolated_broker):
    settings.CONSOLE_CONTROL_TIMEOUT = 0.3
    started = time.monotonic()

    response = staff_client.post(
        "/ops/workers/control?format=json", {"action": "revoke", "task_id": "abc-123", "confirm": "yes"}
    )

    assert time.monotonic() - started < 3
    assert response.status_code == 504 and response.json()["answered"] == []
    assert OperatorAction.objects.get().outcome == "failed"


def test_stopping_a_worker_that_is_not_live_is_refused(staff_client):
    response = staff_client.post(
        "/ops/workers/control?format=json", {"action": "shutdown", "nodename": "celery@gone", "confirm": "yes"}
    )

    assert response.status_code == 400 and response.json()["error"]["message"] == "no live worker has that name"
