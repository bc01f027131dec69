"""An operator's change to a tutoring session in the admin reaches the student's and the trainer's sockets."""

from __future__ import annotations

import asyncio

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import SessionFactory, TrainerFactory, UserFactory
from tests.support.realtime import next_event, open_socket, realtime_server, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.slow]


def test_a_session_changed_in_the_admin_is_pushed_to_its_student_and_trainer(realtime_namespace, staff_client):
    session = SessionFactory()
    student, trainer = session.student, session.trainer
    student.user, trainer.user = UserFactory(), UserFactory()
    student.save(update_fields=["user"])
    trainer.save(update_fields=["user"])
    student_cookie, trainer_cookie = session_cookie(student.user), session_cookie(trainer.user)

    async def scenario(server):
        async with (
            await open_socket(server, student_cookie) as students,
            await open_socket(server, trainer_cookie) as trainers,
        ):
            response = await asyncio.to_thread(_cancel_in_admin, staff_client, session)
            return response.status_code, await next_event(students), await next_event(trainers)

    with realtime_server(**realtime_namespace) as server:
        status, to_student, to_trainer = asyncio.run(scenario(server))

    assert status == 302  # saved, back to the list
    assert to_student["type"] == to_trainer["type"] == "session.changed"
    assert to_student["id"] == session.id
    assert to_student["data"]["status"] == "cancelled"
    assert to_student["data"]["changed"] == ["status"]


def test_a_session_moved_to_another_trainer_is_announced_to_both_trainers(realtime_namespace, staff_client):
    session = SessionFactory()
    previous, replacement = session.trainer, TrainerFactory(user=UserFactory())
    previous.user = UserFactory()
    previous.save(update_fields=["user"])
    previous_cookie, replacement_cookie = session_cookie(previous.user), session_cookie(replacement.user)

    async def scenario(server):
        async with (
            await open_socket(server, previous_cookie) as previous_trainers,
            await open_socket(server, replacement_cookie) as replacement_trainers,
        ):
            await asyncio.to_thread(_change_in_admin, staff_client, session, trainer=replacement.id)
            return await next_event(previous_trainers), await next_event(replacement_trainers)

    with realtime_server(**realtime_namespace) as server:
        to_previous, to_replacement = asyncio.run(scenario(server))

    assert to_previous["type"] == to_replacement["type"] == "session.changed"
    assert to_previous["data"]["trainer_id"] == replacement.id
    assert to_previous["data"]["changed"] == ["trainer"]


def _cancel_in_admin(operator: Client, session) -> object:
    return _change_in_admin(operator, session, status="cancelled")


def _change_in_admin(operator: Client, session, **changes: object) -> object:
    from django.db import connection

    form = {
        "allocation": session.allocation_id,
        "student": session.student_id,
        "trainer": session.trainer_id,
        "course": session.course_id,
        "scheduled_date": session.scheduled_date.isoformat(),
        "scheduled_time": session.scheduled_time.strftime("%H:%M:%S"),
        "duration_minutes": session.duration_minutes,
        "status": session.status,
    }
    try:
        return operator.post(reverse("admin:tutoring_tutoringsession_change", args=[session.id]), {**form, **changes})
    finally:
        connection.close()
