"""/ws/ops/ carries each kind of event only to staff who may view that model; the snapshot to every staff socket."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth.models import Permission

from apps.realtime.services import OPS_GROUP, publish_event
from tests.factories import StaffUserFactory, UserFactory
from tests.support.realtime import heard_next, next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120), pytest.mark.slow]


@pytest.fixture
def server(realtime_namespace):
    with realtime_server(**realtime_namespace) as running:
        yield running


# Pushed on a timer, not by events: the heartbeat's counts and the console's live overview.


def _staff(*permissions: str):
    """A staff user (not a superuser) holding exactly `permissions`, e.g. "payments.view_payment"."""
    user = UserFactory(is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _publish_to_ops(event_type: str) -> None:
    publish_event(event_type=event_type, object_id=1, data={}, groups=[OPS_GROUP])


async def _first_but_overview(socket) -> dict:
    """The first frame other than the console's overview, which the process's feed may push before the
    handshake's own snapshot (it goes to every open /ws/ops/ socket on its own timer)."""
    while (event := await next_event(socket))["type"] == "ops.overview":
        pass
    return event


def _who_hears(server, users: list, event_type: str) -> list[bool]:
    cookies = [session_cookie(user) for user in users]

    async def scenario() -> list[bool]:
        sockets = [await open_socket(server, cookie, path="/ws/ops/") for cookie in cookies]
        firsts = [await _first_but_overview(socket) for socket in sockets]
        assert [first["type"] for first in firsts] == ["ops.snapshot"] * len(sockets)
        await asyncio.to_thread(_publish_to_ops, event_type)
        heard = [await heard_next(socket, event_type) for socket in sockets]
        for socket in sockets:
            await socket.close()
        return heard

    return asyncio.run(scenario())


def test_payment_events_reach_staff_who_may_view_payments_and_no_other_staff(server):
    allowed, not_allowed = _staff("payments.view_payment"), _staff("tutoring.view_tutoringsession")

    assert _who_hears(server, [allowed, not_allowed], "payment.succeeded") == [True, False]


def test_session_events_reach_staff_who_may_view_sessions_and_no_other_staff(server):
    allowed, not_allowed = _staff("tutoring.view_tutoringsession"), _staff("payments.view_payment")

    assert _who_hears(server, [allowed, not_allowed], "session.changed") == [True, False]


def test_allocation_events_reach_staff_who_may_view_allocations_and_no_other_staff(server):
    allowed, not_allowed = _staff("allocations.view_trainerallocation"), _staff("payments.view_payment")

    assert _who_hears(server, [allowed, not_allowed], "allocation.scheduled") == [True, False]


def test_a_superuser_hears_every_kind_even_one_no_permission_names(server):
    superuser = StaffUserFactory(is_superuser=True)

    heard = [_who_hears(server, [superuser], kind)[0] for kind in ("payment.failed", "session.changed", "other.thing")]

    assert heard == [True, True, True]


def test_staff_without_any_view_permission_get_the_snapshot_and_no_events(server):
    cookie = session_cookie(_staff())

    async def scenario():
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            first = await _first_but_overview(socket)
            await asyncio.to_thread(_publish_to_ops, "payment.succeeded")
            await asyncio.to_thread(_publish_to_ops, "other.thing")
            return first, await heard_next(socket, "payment.succeeded")

    first, heard = asyncio.run(scenario())

    assert first["type"] == "ops.snapshot"
    assert not heard
