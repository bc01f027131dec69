"""Access revoked in the admin, by logout or by a new password reaches the user's open sockets within seconds."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth import logout
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import connection, connections
from django.test import RequestFactory

from apps.realtime.services import OPS_GROUP, publish_event
from tests.factories import UserFactory
from tests.support.realtime import (
    close_code_of,
    heard_next,
    open_socket,
    realtime_server,
    session_cookie,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120), pytest.mark.slow]

# The sweep out of the way: within a test, only the signals can close a socket.
NO_SWEEP = "600"
# Seconds a revocation may take to reach an open socket: a publish, one hop to the ORM, a close.
WITHIN = 5


@pytest.fixture
def server(realtime_namespace):
    with realtime_server(WS_ACCESS_RECHECK_INTERVAL=NO_SWEEP, **realtime_namespace) as running:
        yield running


async def _in_thread(change, *args, **kwargs) -> None:
    """Run an ORM `change` in another thread, as another process would, closing that thread's connection after."""

    def run() -> None:
        try:
            change(*args, **kwargs)
        finally:
            connections.close_all()

    await asyncio.to_thread(run)


def _staff(*permissions: str):
    user = UserFactory(is_staff=True)
    for permission in permissions:
        user.user_permissions.add(_permission(permission))
    return user


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _session_key(cookie: str) -> str:
    return cookie.removeprefix("sessionid=")


def _update(user, **fields) -> None:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


def _log_out(user, cookie: str) -> None:
    """What the admin's logout view does with the session behind `cookie`."""
    request = RequestFactory().post("/admin/logout/")
    request.session, request.user = SessionStore(session_key=_session_key(cookie)), user
    logout(request)


def _new_password(user) -> None:
    user.set_password("a-new-password-42")
    user.save()


def _publish_payment() -> None:
    publish_event(event_type="payment.succeeded", object_id=1, data={}, groups=[OPS_GROUP])


def _close_code_after(server, user, change, *args) -> int | None:
    """Open `user`'s /ws/ops/ socket, apply `change` in another thread; the code the socket is closed with."""
    cookie = session_cookie(user)

    async def scenario() -> int | None:
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            await _in_thread(change, user, *args)
            return await close_code_of(socket, timeout=WITHIN)

    return asyncio.run(scenario())


def test_a_staff_socket_closes_4401_once_its_user_is_deactivated(server):
    assert _close_code_after(server, _staff(), lambda user: _update(user, is_active=False)) == 4401


def test_a_staff_socket_stays_open_when_its_user_is_saved_still_allowed(server):
    assert _close_code_after(server, _staff(), lambda user: _update(user, first_name="Renamed")) is None


def test_a_staff_socket_closes_4403_once_its_user_is_no_longer_staff(server):
    assert _close_code_after(server, _staff(), lambda user: _update(user, is_staff=False)) == 4403


def test_a_socket_closes_4401_once_its_user_is_deleted(server):
    assert _close_code_after(server, _staff(), lambda user: user.delete()) == 4401


def test_a_socket_closes_4401_once_its_user_has_a_new_password(server):
    assert _close_code_after(server, _staff(), _new_password) == 4401


def test_a_socket_closes_4401_once_its_session_logs_out_and_the_users_other_session_keeps_its_socket(server):
    user = _staff()
    leaving, staying = session_cookie(user), session_cookie(user)

    async def scenario() -> tuple[int | None, int | None]:
        async with (
            await open_socket(server, leaving, path="/ws/ops/") as logged_out,
            await open_socket(server, staying, path="/ws/ops/") as other,
        ):
            await _in_thread(_log_out, user, leaving)
            return await close_code_of(logged_out, timeout=WITHIN), await close_code_of(other, timeout=1.5)

    assert asyncio.run(scenario()) == (4401, None)


def test_another_users_socket_is_untouched_when_a_user_is_deactivated(server):
    revoked, bystander = _staff(), _staff("payments.view_payment")
    revoked_cookie, bystander_cookie = session_cookie(revoked), session_cookie(bystander)

    async def scenario() -> tuple[int | None, bool, int | None]:
        async with (
            await open_socket(server, revoked_cookie, path="/ws/ops/") as revoked_socket,
            await open_socket(server, bystander_cookie, path="/ws/ops/") as bystander_socket,
        ):
            await _in_thread(_update, revoked, is_active=False)
            revoked_code = await close_code_of(revoked_socket, timeout=WITHIN)
            await asyncio.to_thread(_publish_payment)
            return revoked_code, await heard_next(bystander_socket, "payment.succeeded"), bystander_socket.close_code

    assert asyncio.run(scenario()) == (4401, True, None)


def test_a_user_who_loses_view_payment_stops_hearing_payments_and_keeps_the_socket(server):
    user, view_payment = _staff("payments.view_payment"), _permission("payments.view_payment")
    cookie = session_cookie(user)

    async def scenario() -> tuple[bool, bool, int | None]:
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            await asyncio.to_thread(_publish_payment)
            before = await heard_next(socket, "payment.succeeded")
            await _in_thread(user.user_permissions.remove, view_payment)
            await asyncio.to_thread(_groups_changed, server)
            await asyncio.to_thread(_publish_payment)
            after = await heard_next(socket, "payment.succeeded")
            return before, after, await close_code_of(socket, timeout=1)

    assert asyncio.run(scenario()) == (True, False, None)


def test_a_user_granted_view_payment_starts_hearing_payments_on_the_open_socket(server):
    user, view_payment = _staff(), _permission("payments.view_payment")
    cookie = session_cookie(user)

    async def scenario() -> tuple[bool, bool]:
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            await asyncio.to_thread(_publish_payment)
            before = await heard_next(socket, "payment.succeeded")
            await _in_thread(user.user_permissions.add, view_payment)
            await asyncio.to_thread(_groups_changed, server)
            await asyncio.to_thread(_publish_payment)
            return before, await heard_next(socket, "payment.succeeded")

    assert asyncio.run(scenario()) == (False, True)


def _groups_changed(server) -> None:
    wait_until(lambda: "ws_groups_changed" in server.process.log(), timeout=WITHIN, what="ws_groups_changed")


def test_deactivating_a_user_closes_their_sockets_on_every_instance(realtime_namespace):
    user = _staff()
    cookies = session_cookie(user), session_cookie(user)
    env = {"WS_ACCESS_RECHECK_INTERVAL": NO_SWEEP, **realtime_namespace}

    async def scenario(first, second) -> list[int | None]:
        async with (
            await open_socket(first, cookies[0], path="/ws/ops/") as on_first,
            await open_socket(second, cookies[1], path="/ws/ops/") as on_second,
        ):
            await _in_thread(_update, user, is_active=False)
            return [await close_code_of(on_first, timeout=WITHIN), await close_code_of(on_second, timeout=WITHIN)]

    with realtime_server(**env) as first, realtime_server(**env) as second:
        assert asyncio.run(scenario(first, second)) == [4401, 4401]


def test_a_session_deleted_behind_the_signals_back_closes_its_socket_within_the_recheck_interval(realtime_namespace):
    cookie = session_cookie(_staff())

    def delete_with_raw_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM django_session WHERE session_key = %s", [_session_key(cookie)])

    async def scenario(server) -> int | None:
        async with await open_socket(server, cookie, path="/ws/ops/") as socket:
            await _in_thread(delete_with_raw_sql)
            return await close_code_of(socket, timeout=1 + WITHIN)

    with realtime_server(WS_ACCESS_RECHECK_INTERVAL="1", **realtime_namespace) as server:
        assert asyncio.run(scenario(server)) == 4401
