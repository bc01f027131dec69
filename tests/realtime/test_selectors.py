"""realtime_signed_in_users: who each open socket's session still signs in, read in two queries."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from apps.realtime.selectors import realtime_signed_in_users
from tests.factories import UserFactory
from tests.support.realtime import session_cookie

pytestmark = pytest.mark.django_db


def _key(user) -> str:
    return session_cookie(user).removeprefix("sessionid=")


def test_a_live_session_signs_its_user_in():
    user = UserFactory()
    key = _key(user)

    assert realtime_signed_in_users([key]) == {key: user}


def test_a_deleted_session_signs_no_one_in():
    key = _key(UserFactory())
    Session.objects.filter(session_key=key).delete()

    assert realtime_signed_in_users([key]) == {}


def test_an_inactive_users_session_signs_no_one_in():
    user = UserFactory()
    key = _key(user)
    user.is_active = False
    user.save()

    assert realtime_signed_in_users([key]) == {}


def test_a_session_from_before_a_new_password_signs_no_one_in():
    user = UserFactory()
    key = _key(user)
    user.set_password("a-new-password-42")
    user.save()

    assert realtime_signed_in_users([key]) == {}


def test_many_sessions_cost_two_queries(django_assert_num_queries):
    keys = [_key(UserFactory()) for _ in range(5)]

    with django_assert_num_queries(2):
        assert len(realtime_signed_in_users(keys)) == 5
