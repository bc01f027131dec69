from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.workers.models import DeadLetter
from tests.factories import PaymentFactory, PurchaseFactory, UserFactory
from tests.support.admin import changelist_query_count
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client() -> Client:
    """Staff who may view dead letters but not replay them."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_deadletter"))
    client = Client()
    client.force_login(user)
    return client


CHANGELIST = "/admin/deadletters/deadletter/"


def test_the_changelist_runs_as_many_queries_for_300_letters_as_for_110(staff_client):
    DeadLetterFactory.create_batch(110)  # more than a page: both counts include the paginator's
    few = changelist_query_count(staff_client, CHANGELIST)
    DeadLetterFactory.create_batch(190)

    assert changelist_query_count(staff_client, CHANGELIST) == few


def test_the_changelist_shows_groups_by_exception_and_filters_by_them(staff_client):
    DeadLetterFactory(exception_class="x.Timeout")

    response = staff_client.get(CHANGELIST)

    assert b"New dead letters by exception" in response.content
    assert staff_client.get(f"{CHANGELIST}?exception_class__exact=x.Timeout").status_code == 200


def test_the_changelist_shows_how_often_each_letter_failed_and_when_it_was_last_seen(staff_client):
    DeadLetterFactory(failures=7)

    content = staff_client.get(CHANGELIST).content.decode()

    assert "<span>Count</span>" in content and ">Last seen</a>" in content  # sorted only where an index serves
    assert '<td class="field-failures">7</td>' in content


def test_the_change_page_shows_the_audit_trail(staff_client):
    letter = DeadLetterFactory()

    assert staff_client.get(f"{CHANGELIST}{letter.id}/change/").status_code == 200


def test_the_discard_action_needs_a_reason_and_records_the_staff_user(staff_client):
    letter = DeadLetterFactory()

    staff_client.post(CHANGELIST, {"action": "discard_selected", "_selected_action": [letter.id], "reason": ""})
    assert DeadLetter.objects.get().status == DeadLetter.Status.NEW
    staff_client.post(CHANGELIST, {"action": "discard_selected", "_selected_action": [letter.id], "reason": "dup"})

    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.DISCARDED
    assert letter.actions.get(kind="discarded").actor.is_staff


def test_the_replay_action_replays_through_the_service(staff_client):
    letter = DeadLetterFactory()

    staff_client.post(CHANGELIST, {"action": "replay_selected", "_selected_action": [letter.id]})

    assert DeadLetter.objects.get().status == DeadLetter.Status.REPLAYED


def test_a_user_who_is_not_staff_is_sent_to_the_login_page(member_client):
    assert member_client.get(CHANGELIST).status_code == 302


def _letter_page(client, letter) -> str:
    return client.get(f"{CHANGELIST}{letter.id}/change/").content.decode()


def test_a_letters_arguments_link_to_the_records_they_name(staff_client):
    payment = PaymentFactory()
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[payment.id])

    page = _letter_page(staff_client, letter)

    assert f'payment_id=<a href="/admin/payments/payment/{payment.id}/change/">{payment.id}</a>' in page
    assert (
        f'payment_id=<a href="/admin/payments/payment/{payment.id}/change/">'
        in staff_client.get(CHANGELIST).content.decode()
    )


def test_an_argument_of_a_task_that_no_longer_exists_is_shown_unlinked(staff_client):
    letter = DeadLetterFactory(task_name="gone.task", args=[7, "x"])

    assert "#0=7, #1=&quot;x&quot;" in _letter_page(staff_client, letter)


def test_a_letter_links_to_the_console_filtered_to_its_payment(staff_client):
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[4242])

    assert "/ops/dead-letters?status=all&amp;q=4242" in _letter_page(staff_client, letter)


def test_the_dry_run_on_a_letter_says_in_green_that_a_replay_would_run(staff_client):
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[PaymentFactory(status="succeeded").id])

    response = staff_client.post(f"{CHANGELIST}{letter.id}/dry-run/", follow=True)

    assert '<li class="success">Dry run: #' in response.content.decode()
    assert "would run (enqueue purchases.create_from_payment" in response.content.decode()
    assert DeadLetter.objects.get().status == DeadLetter.Status.NEW


def test_the_dry_run_on_a_letter_says_in_red_why_a_replay_would_be_refused(staff_client):
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=["not-an-id"])

    response = staff_client.post(f"{CHANGELIST}{letter.id}/dry-run/", follow=True)

    assert '<li class="error">Dry run: #' in response.content.decode()
    assert "arguments no longer valid — refuse (arguments no longer valid: payment_id must be int" in (
        response.content.decode()
    )


def test_the_dry_run_on_a_letter_says_already_applied_when_the_work_is_done(staff_client):
    purchase = PurchaseFactory()
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[purchase.payment_id])

    response = staff_client.post(f"{CHANGELIST}{letter.id}/dry-run/", follow=True)

    assert '<li class="info">Dry run: #' in response.content.decode()
    assert "already applied — skip" in response.content.decode()


def test_the_replay_button_replays_the_letter_and_names_the_operator(staff_client):
    letter = DeadLetterFactory(task_name="purchases.create_from_payment", args=[PaymentFactory(status="succeeded").id])

    response = staff_client.post(f"{CHANGELIST}{letter.id}/replay/", follow=True)

    letter.refresh_from_db()
    assert "Replayed: purchases.create_from_payment sent again as task" in response.content.decode()
    assert letter.status == DeadLetter.Status.REPLAYED
    assert letter.actions.get(kind="replayed").actor.is_staff


def test_the_discard_button_needs_a_reason(staff_client):
    letter = DeadLetterFactory()

    staff_client.post(f"{CHANGELIST}{letter.id}/discard/", {"reason": " "})
    assert DeadLetter.objects.get().status == DeadLetter.Status.NEW
    staff_client.post(f"{CHANGELIST}{letter.id}/discard/", {"reason": "duplicate of #3"})

    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.DISCARDED
    assert letter.actions.get(kind="discarded").detail == {"reason": "duplicate of #3"}


def test_replaying_or_discarding_needs_the_replay_permission_and_a_post(viewer_client):
    letter = DeadLetterFactory()

    assert viewer_client.post(f"{CHANGELIST}{letter.id}/replay/").status_code == 403
    assert viewer_client.post(f"{CHANGELIST}{letter.id}/discard/", {"reason": "x"}).status_code == 403
    assert viewer_client.get(f"{CHANGELIST}{letter.id}/dry-run/").status_code == 405
    assert "need the replay_deadletters permission" in _letter_page(viewer_client, letter)
    assert DeadLetter.objects.get().status == DeadLetter.Status.NEW


def test_a_letter_that_does_not_exist_is_a_404(staff_client):
    assert staff_client.post(f"{CHANGELIST}999999/replay/").status_code == 404


def test_a_letter_is_found_by_its_exact_task_id_or_correlation_id(staff_client):
    letter = DeadLetterFactory(task_id="abc-123", correlation_id="corr-9")
    other = DeadLetterFactory()

    for term in ("abc-123", "corr-9", str(letter.id)):
        content = staff_client.get(CHANGELIST, {"q": term}).content.decode()
        assert f"{CHANGELIST}{letter.id}/change/" in content
        assert f"{CHANGELIST}{other.id}/change/" not in content
