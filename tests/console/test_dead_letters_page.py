"""/ops/dead-letters: groups, filters, the letters, and the actions (dry run, replay job, discard), each gated."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.console.models import OperatorAction
from apps.console.shared_cache import shared_page_data_changed
from apps.payments.models import PaymentStatus
from apps.telemetry.reporter import key
from apps.telemetry.selectors import console_overview
from apps.workers.models import DeadLetter, DeadLetterReplayJob
from lib.redis import get_client
from tests.factories import AllocationFactory, PaymentFactory, StaffUserFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client() -> Client:
    """Staff in the read-only operators group: may look, may not replay."""
    user = StaffUserFactory(is_superuser=False, username="looker")
    user.groups.add(Group.objects.get(name="operators"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def replayer_client() -> Client:
    user = StaffUserFactory(is_superuser=False, username="replayer")
    user.groups.add(Group.objects.get(name="operators"))
    user.user_permissions.add(Permission.objects.get(codename="replay_deadletters"))
    client = Client()
    client.force_login(user)
    return client


def test_letters_are_grouped_by_task_and_exception_with_counts_and_a_sample(staff_client):
    DeadLetterFactory.create_batch(3, exception_class="x.Boom", message="boom!")
    DeadLetterFactory(exception_class="x.Other")

    body = staff_client.get("/api/ops/dead-letters").json()

    assert [(g["exception_class"], g["count"]) for g in body["groups"]] == [("x.Boom", 3), ("x.Other", 1)]
    assert body["groups"][0]["sample"]["message"] == "boom!"
    assert {"first_seen", "last_seen"} <= set(body["groups"][0])
    assert body["matching"] == 4


def test_the_page_shows_the_groups_letters_growth_chart_and_its_alert_link(staff_client):
    DeadLetterFactory(exception_class="x.Boom")

    page = staff_client.get("/ops/dead-letters").content.decode()

    assert "x.Boom" in page
    assert 'data-series="dead_letters.new"' in page
    assert 'href="/ops/alerts"' in page


def test_the_page_and_its_json_twin_agree(staff_client):
    assert staff_client.get("/ops/dead-letters?format=json", follow=True).json().keys() == (
        staff_client.get("/api/ops/dead-letters").json().keys()
    )


def test_an_empty_queue_says_so(staff_client):
    assert "No new dead letters — good." in staff_client.get("/ops/dead-letters").content.decode()


def test_a_payment_id_finds_the_letters_of_every_step_of_that_payment(staff_client):
    allocation = AllocationFactory()
    payment_id = allocation.purchase.payment_id
    mine = [
        DeadLetterFactory(args=[payment_id]),
        DeadLetterFactory(task_name="tutoring.schedule_sessions", queue="sessions", args=[allocation.id]),
    ]
    DeadLetterFactory(args=[PaymentFactory().id])

    body = staff_client.get(f"/api/ops/dead-letters?status=all&q={payment_id}").json()

    assert sorted(row["id"] for row in body["letters"]) == sorted(letter.id for letter in mine)
    assert {row["payment_id"] for row in body["letters"]} == {payment_id}


def test_a_correlation_id_finds_its_letters(staff_client):
    letter = DeadLetterFactory(correlation_id="corr-abc-1")
    DeadLetterFactory(correlation_id="corr-other")

    body = staff_client.get("/api/ops/dead-letters?q=corr-abc-1").json()

    assert [row["id"] for row in body["letters"]] == [letter.id]


@pytest.mark.parametrize(
    ("query", "field"), [("status=lost", "status"), ("since=5y", "since"), ("q=%3Cscript%3E", "q")]
)
def test_a_bad_filter_is_a_400_naming_it(staff_client, query, field):
    response = staff_client.get(f"/api/ops/dead-letters?{query}")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_the_pages_query_count_does_not_grow_with_the_letters(staff_client):
    def queries() -> int:
        shared_page_data_changed(page="deadletters")  # compute afresh, not from the shared copy
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get("/api/ops/dead-letters?status=all").status_code == 200
        return len(captured)

    DeadLetterFactory(args=[PaymentFactory().id])
    DeadLetterFactory(task_name="allocations.assign_trainer", args=[AllocationFactory().purchase_id])
    DeadLetterFactory(task_name="tutoring.schedule_sessions", args=[AllocationFactory().id])
    queries()  # the session, the permissions and the overview's shared copy, once
    few = queries()
    for _ in range(15):
        DeadLetterFactory(args=[PaymentFactory().id])
        DeadLetterFactory(task_name="tutoring.schedule_sessions", exception_class="x.Y", args=[AllocationFactory().id])

    assert queries() == few


def test_the_page_is_shared_by_its_viewers_for_a_moment(staff_client):
    DeadLetterFactory()
    staff_client.get("/api/ops/dead-letters")

    with CaptureQueriesContext(connection) as captured:
        staff_client.get("/api/ops/dead-letters")

    assert not any("dead_letters" in q["sql"] for q in captured.captured_queries)


def test_only_staff_see_the_page(member_client, client):
    assert member_client.get("/ops/dead-letters").status_code == 403
    assert client.get("/api/ops/dead-letters").status_code == 401


def test_an_operator_without_the_replay_permission_may_look_but_not_act(operator_client):
    letter = DeadLetterFactory()

    assert operator_client.get("/ops/dead-letters").status_code == 200
    for path in ("dry-run", "replay", "discard"):
        response = operator_client.post(
            f"/ops/dead-letters/{path}?format=json", {"scope": "selected", "ids": [letter.id]}
        )
        assert response.status_code == 403, path
    assert "replay_deadletters" in operator_client.get("/ops/dead-letters").content.decode()


def test_actions_need_a_post_with_the_csrf_token(replayer_client):
    letter = DeadLetterFactory()
    replayer_client.handler.enforce_csrf_checks = True

    response = replayer_client.post("/ops/dead-letters/discard", {"ids": [letter.id], "reason": "x", "confirm": "yes"})

    assert response.status_code == 403
    assert DeadLetter.objects.get().status == "new"
    assert replayer_client.get("/ops/dead-letters/discard").status_code == 405


def test_the_dry_run_of_all_matching_says_per_letter_what_a_replay_would_do(replayer_client):
    run = DeadLetterFactory(args=[PaymentFactory().id])
    refunded = DeadLetterFactory(args=[PaymentFactory(status=PaymentStatus.REFUNDED).id])

    body = replayer_client.post("/ops/dead-letters/dry-run?format=json", {"scope": "matching", "status": "new"}).json()

    assert {p["id"]: p["verdict"] for p in body["plans"]} == {run.id: "would_run", refunded.id: "payment_refunded"}
    assert body["max_letter_id"] == refunded.id
    assert body["counts"]["would_run"] == 1
    assert not DeadLetterReplayJob.objects.exists()


def test_the_dry_run_page_offers_the_replay_with_the_same_filters(replayer_client):
    DeadLetterFactory(args=[PaymentFactory().id], queue="purchases")

    page = replayer_client.post(
        "/ops/dead-letters/dry-run", {"scope": "matching", "queue": "purchases"}
    ).content.decode()

    assert "would run" in page
    assert 'name="queue" value="purchases"' in page
    assert 'id="confirm-replay"' in page


def test_confirming_starts_a_job_audits_it_and_shows_its_progress(replayer_client):
    letter = DeadLetterFactory(args=[PaymentFactory().id])

    response = replayer_client.post(
        "/ops/dead-letters/replay", {"scope": "matching", "status": "new", "max_letter_id": letter.id}
    )

    job = DeadLetterReplayJob.objects.get()
    assert response.status_code == 302 and response.url == f"/ops/dead-letters/jobs/{job.id}"
    assert (job.total, job.actor_username) == (1, "replayer")
    audit = OperatorAction.objects.get(action="deadletter.replay_job.started")
    assert audit.target == f"replay job {job.id}"
    progress = replayer_client.get(f"/api/ops/dead-letters/jobs/{job.id}").json()["job"]
    assert (progress["status"], progress["done"], progress["total"]) == ("queued", 0, 1)


def test_a_replay_without_its_dry_run_is_refused(replayer_client):
    DeadLetterFactory()

    response = replayer_client.post("/ops/dead-letters/replay?format=json", {"scope": "matching"})

    assert response.status_code == 400
    assert "max_letter_id" in response.json()["error"]["fields"]


def test_a_discard_needs_a_reason_and_a_confirmation(replayer_client):
    letter = DeadLetterFactory()

    no_reason = replayer_client.post("/ops/dead-letters/discard?format=json", {"ids": [letter.id], "confirm": "yes"})
    unconfirmed = replayer_client.post("/ops/dead-letters/discard?format=json", {"ids": [letter.id], "reason": "x"})

    assert (no_reason.status_code, unconfirmed.status_code) == (400, 400)
    assert no_reason.json()["error"]["fields"] == {"reason": "a discard needs a reason"}
    assert DeadLetter.objects.get().status == "new"


def test_a_discard_with_its_reason_closes_the_letters_and_is_audited(replayer_client):
    letters = DeadLetterFactory.create_batch(2)

    response = replayer_client.post(
        "/ops/dead-letters/discard", {"ids": [x.id for x in letters], "reason": "refunded by hand", "confirm": "yes"}
    )

    assert response.status_code == 302
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {"discarded"}
    audit = OperatorAction.objects.get(action="deadletter.discard")
    assert audit.detail["reason"] == "refunded by hand"
    assert audit.actor_username == "replayer"


def test_a_discard_shows_in_the_summary_bar_at_once_not_at_the_next_sample(replayer_client):
    letters = DeadLetterFactory.create_batch(2)
    assert console_overview()["summary"]["dead_letters_new"] == 2  # the totals, cached until the next sample

    replayer_client.post(
        "/ops/dead-letters/discard", {"ids": [x.id for x in letters], "reason": "refunded by hand", "confirm": "yes"}
    )
    get_client("write").delete(key("overview"))  # the 2-s copy expires

    assert console_overview()["summary"]["dead_letters_new"] == 0


def test_cancelling_a_job_is_audited(replayer_client):
    letter = DeadLetterFactory()
    replayer_client.post(
        "/ops/dead-letters/replay", {"scope": "selected", "ids": [letter.id], "max_letter_id": letter.id}
    )
    job = DeadLetterReplayJob.objects.get()

    replayer_client.post(f"/ops/dead-letters/jobs/{job.id}/cancel")

    assert DeadLetterReplayJob.objects.get().status == "cancelled"
    assert OperatorAction.objects.filter(action="deadletter.replay_job.cancel", outcome="succeeded").exists()


def test_an_unknown_job_is_a_404(staff_client):
    assert staff_client.get("/api/ops/dead-letters/jobs/999999").status_code == 404


def test_the_summary_bar_leads_to_the_new_dead_letters(staff_client):
    page = staff_client.get("/ops/").content.decode()

    assert 'href="/ops/dead-letters?status=new" data-key="dead_letters_new"' in page
