"""Limits hold across instances: a user's WebSocket cap, the API rate limit and the provider's circuit breaker are
counted once for the whole cluster, whichever instance HAProxy picks."""

from __future__ import annotations

import asyncio

import pytest
import requests

from tests.factories import CourseFactory, StaffUserFactory, StudentFactory, UserFactory
from tests.support.cluster import API_LIMIT, API_TOKEN, BREAKER_FAIL_MAX, PER_USER, SERVED_BY, accepted, served_by
from tests.support.realtime import close_code_of, open_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_users_sockets_spread_over_both_instances_are_capped_for_the_whole_cluster(cluster):
    cookie = session_cookie(UserFactory())

    async def scenario():
        sockets = [await open_socket(cluster.front, cookie) for _ in range(PER_USER)]
        one_too_many = await open_socket(cluster.front, cookie)
        refused_with = await close_code_of(one_too_many, timeout=5)
        kept = [await accepted(socket, settle=0.1) for socket in sockets]
        instances = sorted(served_by(socket) for socket in sockets)
        for socket in sockets:
            await socket.close()
        return instances, refused_with, kept

    instances, refused_with, kept = asyncio.run(scenario())

    assert instances == ["web1", "web1", "web2", "web2"]
    assert refused_with == 1008
    assert kept == [True] * PER_USER  # the newest is refused; open ones are never kicked


def test_the_api_limit_counts_a_users_requests_through_both_instances(cluster):
    cookie = session_cookie(StaffUserFactory())

    answers = [
        requests.get(f"{cluster.url}/api/ops/realtime", headers={"Cookie": cookie}, timeout=10)
        for _ in range(API_LIMIT + 3)
    ]

    assert [answer.status_code for answer in answers] == [200] * API_LIMIT + [429] * 3
    assert {answer.headers[SERVED_BY] for answer in answers[:API_LIMIT]} == {"web1", "web2"}


def test_a_breaker_opened_through_one_instance_refuses_calls_on_the_other(cluster):
    course = CourseFactory()
    students = StudentFactory.create_batch(BREAKER_FAIL_MAX + 1)
    first, second = cluster.web
    cluster.provider.set_mode("error")

    def create(instance, student):
        body = {"student_id": student.id, "course_id": course.id, "amount": "240.00", "currency": "EUR"}
        headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": f"breaker-{student.id}"}
        return requests.post(f"{instance.http}/api/payments", json=body, headers=headers, timeout=10)

    tripping = [create(first, student) for student in students[:BREAKER_FAIL_MAX]]
    reached_before = cluster.provider.requests_to("POST", "/v1/charges")
    on_the_other = create(second, students[-1])
    reached_after = cluster.provider.requests_to("POST", "/v1/charges")
    cluster.provider.reset()

    assert [answer.status_code for answer in tripping] == [502] * BREAKER_FAIL_MAX
    assert reached_before == BREAKER_FAIL_MAX
    assert on_the_other.status_code == 502
    assert on_the_other.json()["error"]["code"] == "provider_unavailable"
    assert reached_after == reached_before  # the second instance never called the provider
