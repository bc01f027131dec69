"""A payment's status change reaches its student's sockets, and the ops stream, once the transaction commits."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection, transaction

from apps.payments.models import PaymentStatus
from apps.payments.services import payment_settle
from lib import metrics
from tests.factories import PaymentFactory, StaffUserFactory, StudentFactory, UserFactory
from tests.support.realtime import is_silent, next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.slow]


def test_a_settled_payment_is_pushed_to_its_student_and_to_ops_and_to_no_one_else(realtime_namespace):
    student = StudentFactory(user=UserFactory())
    payment = PaymentFactory(student=student, status=PaymentStatus.PENDING)
    student_cookie = session_cookie(student.user)
    staff_cookie, other_cookie = session_cookie(StaffUserFactory()), session_cookie(UserFactory())

    async def scenario(server):
        async with (
            await open_socket(server, student_cookie) as mine,
            await open_socket(server, staff_cookie, path="/ws/ops/") as ops,
            await open_socket(server, other_cookie) as someone_elses,
        ):
            await next_event(ops)  # the snapshot every ops socket opens with
            await asyncio.to_thread(_settle, payment.id, PaymentStatus.FAILED)
            event = await next_event(mine)
            ops_event = await _next_event_of_type(ops, "payment.failed")
            return event, ops_event, await is_silent(someone_elses)

    with realtime_server(**realtime_namespace) as server:
        event, ops_event, others_heard_nothing = asyncio.run(scenario(server))

    assert event["type"] == "payment.failed"
    assert event["id"] == payment.id
    assert event["data"]["status"] == "failed"
    assert event["data"]["student_id"] == student.id
    assert ops_event["id"] == payment.id
    assert others_heard_nothing


def test_a_rolled_back_status_change_is_never_announced(realtime_namespace):
    student = StudentFactory(user=UserFactory())
    payment = PaymentFactory(student=student, status=PaymentStatus.PENDING)
    cookie = session_cookie(student.user)
    published_before = metrics.counter_value("ws_events_published")

    async def scenario(server):
        async with await open_socket(server, cookie) as socket:
            await asyncio.to_thread(_settle_then_roll_back, payment.id)
            published_after_rollback = metrics.counter_value("ws_events_published")
            await asyncio.to_thread(_settle, payment.id, PaymentStatus.SUCCEEDED)  # committed this time
            return published_after_rollback, await next_event(socket)

    with realtime_server(**realtime_namespace) as server:
        published_after_rollback, first_event = asyncio.run(scenario(server))

    assert published_after_rollback == published_before
    assert first_event["type"] == "payment.succeeded"  # the rolled-back "failed" was never heard


def _settle(payment_id: int, status: str) -> None:
    try:
        payment_settle(payment_id=payment_id, status=status)
    finally:
        connection.close()  # this thread's own connection, or the test database cannot be dropped


class RolledBack(Exception):
    pass


def _settle_then_roll_back(payment_id: int) -> None:
    try:
        with transaction.atomic():
            payment_settle(payment_id=payment_id, status=PaymentStatus.FAILED)
            raise RolledBack
    except RolledBack:
        pass
    finally:
        connection.close()


async def _next_event_of_type(socket, event_type: str) -> dict:
    while True:
        event = await next_event(socket)
        if event["type"] == event_type:
            return event
