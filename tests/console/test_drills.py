"""/ops/drills: only when OPS_FAULT_DRILLS is on, permission-gated, confirmed, audited, each drill ending by itself."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Permission
from django.core.checks import run_checks
from django.test import Client

from apps.console.models import OperatorAction
from apps.drills.services import drill_list
from lib.redis import redis_cut_off, redis_read
from tests.factories import StaffUserFactory


@pytest.fixture
def drills_on(settings):
    settings.OPS_FAULT_DRILLS = True


def _active(name: str) -> bool | None:
    return next(d["active"] for d in drill_list() if d["name"] == name)


@pytest.mark.django_db
def test_the_page_is_not_found_while_drills_are_off(staff_client, settings):
    settings.OPS_FAULT_DRILLS = False

    assert staff_client.get("/ops/drills").status_code == 404
    assert staff_client.post("/ops/drills/poison/run?format=json", {"confirm": "poison"}).status_code == 404


def test_the_deploy_check_refuses_drills_in_production(settings):
    settings.OPS_FAULT_DRILLS = True

    assert "ops_console.E020" in [m.id for m in run_checks(include_deployment_checks=True, tags=["security"])]


def test_the_deploy_check_is_silent_while_drills_are_off(settings):
    settings.OPS_FAULT_DRILLS = False

    assert "ops_console.E020" not in [m.id for m in run_checks(include_deployment_checks=True, tags=["security"])]


@pytest.mark.django_db
def test_the_page_lists_every_drill_with_what_the_console_should_show(staff_client, drills_on):
    page = staff_client.get("/ops/drills").content.decode()
    body = staff_client.get("/api/ops/drills").json()

    assert {d["name"] for d in body["drills"]} == {
        "provider_slow", "provider_hanging", "provider_failing", "provider_refusing", "db_pool", "slow_sql",
        "redis_down", "poison", "burst"}  # fmt: skip
    assert all(d["expect"] and d["active"] is False for d in body["drills"])
    assert 'href="/ops/drills"' in page and 'data-drill="slow_sql"' in page


@pytest.mark.django_db
def test_running_a_drill_needs_the_run_drills_permission(drills_on):
    user = StaffUserFactory(is_superuser=False)
    user.user_permissions.add(Permission.objects.get(codename="view_console"))
    client = Client()
    client.force_login(user)

    response = client.post("/ops/drills/poison/run?format=json", {"confirm": "poison"})

    assert response.status_code == 403 and "run_drills" in response.json()["error"]["message"]
    assert client.get("/api/ops/drills").status_code == 200


@pytest.mark.django_db
def test_a_drill_asks_for_confirmation_first(staff_client, drills_on):
    response = staff_client.post("/ops/drills/poison/run?format=json")
    page = staff_client.post("/ops/drills/poison/run").content.decode()

    assert response.status_code == 409 and response.json()["error"]["confirm"] == "poison"
    assert "Yes, run Poison task" in page and not OperatorAction.objects.exists()


@pytest.mark.django_db
def test_a_duration_beyond_the_limit_is_a_400_naming_it(staff_client, drills_on, settings):
    settings.DRILL_MAX_SECONDS = 10

    response = staff_client.post("/ops/drills/redis_down/run?format=json", {"confirm": "redis_down", "seconds": "60"})
    bad = staff_client.post("/ops/drills/redis_down/run?format=json", {"confirm": "redis_down", "seconds": "soon"})

    assert response.status_code == 400 and "DRILL_MAX_SECONDS" in response.json()["error"]["message"]
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"seconds": "not a number: 'soon'"}


@pytest.mark.django_db
def test_a_poison_task_drill_is_audited_marked_running_and_refused_twice(staff_client, drills_on, isolated_broker):
    first = staff_client.post("/ops/drills/poison/run?format=json", {"confirm": "poison"})
    second = staff_client.post("/ops/drills/poison/run?format=json", {"confirm": "poison"})

    assert first.status_code == 200 and "dead letter" in first.json()["expect"]
    assert second.status_code == 400 and "already running" in second.json()["error"]["message"]
    assert _active("poison") is True
    assert list(OperatorAction.objects.values_list("action", "outcome")) == [("drills.poison", "succeeded")]


@pytest.mark.django_db
def test_a_provider_drill_that_cannot_reach_the_provider_is_a_503_audited_as_failed(staff_client, drills_on, settings):
    settings.HTTP_TARGETS = {
        **settings.HTTP_TARGETS,
        "provider_control": {**settings.HTTP_TARGETS["provider_control"], "base_url": "http://127.0.0.1:1"},
    }

    response = staff_client.post(
        "/ops/drills/provider_failing/run?format=json", {"confirm": "provider_failing", "seconds": "5"}
    )

    assert response.status_code == 503 and response.json()["error"]["code"] == "drill_failed"
    assert OperatorAction.objects.get().outcome == "failed"
    assert _active("provider_failing") is False


def test_redis_made_unreachable_for_this_process_comes_back_by_itself():
    redis_cut_off(seconds=0.3)
    during = redis_read(lambda client: client.ping(), default=None, what="drill test")
    threading.Event().wait(0.5)

    assert during is None
    assert redis_read(lambda client: client.ping(), default=None, what="drill test") is True
