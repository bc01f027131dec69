from __future__ import annotations

import pytest

from apps.workers.models import DeadLetter
from tests.support.admin import changelist_query_count
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db

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
