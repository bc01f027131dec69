"""RabbitMQ as the broker: quorum queues, their delivery limit beside our poison check, delays, queue readings.

These need CELERY_BROKER_URL=amqp://… and rabbitmqctl: `make test-rabbitmq` runs them (and says so when no
RabbitMQ answers). Under `make test` (Redis) they are reported as skipped, with that reason.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings

from apps.console import workers
from apps.telemetry.aggregate import queues_read
from apps.workers.models import DeadLetter
from lib.redis import get_client
from ops_console.celery import app
from ops_console.queues import DEAD_QUEUE
from tests.support.amqp import amqp_queue_depth, amqp_queue_messages, rabbitmqctl
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.skipif(
        settings.CELERY_BROKER_KIND != "amqp",
        reason="RabbitMQ only: `make test-rabbitmq` runs it with CELERY_BROKER_URL=amqp://…",
    ),
    pytest.mark.django_db(transaction=True),
]


def _vhost() -> str:
    return unquote(urlsplit(settings.CELERY_BROKER_URL).path.lstrip("/")) or "/"


def _declared_queues() -> dict[str, dict]:
    rows = json.loads(rabbitmqctl("list_queues", "-p", _vhost(), "name", "type", "arguments", "--formatter", "json"))
    # arguments come as [name, AMQP type, value] triples
    return {row["name"]: {**row, "arguments": {a[0]: a[-1] for a in row["arguments"]}} for row in rows}


def _depth(queue: str) -> int:
    return {q["name"]: q["depth"] for q in queues_read()}[queue]


@pytest.mark.slow
def test_a_worker_declares_every_queue_as_a_quorum_queue_with_the_delivery_limit(start_worker):
    start_worker()

    def declared_by_the_worker() -> bool:  # an earlier test's publish may have declared the task queues already
        names = set(_declared_queues())
        return set(settings.WORKER_QUEUES) <= names and any(name.endswith(".pidbox") for name in names)

    wait_until(declared_by_the_worker, timeout=30, what="the queues")
    declared = _declared_queues()

    for queue in settings.WORKER_QUEUES:
        assert declared[queue]["type"] == "quorum"
        assert declared[queue]["arguments"]["x-delivery-limit"] == settings.CELERY_QUEUE_DELIVERY_LIMIT
        assert declared[queue]["arguments"]["x-dead-letter-exchange"] == DEAD_QUEUE
        assert declared[queue]["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert declared[DEAD_QUEUE]["type"] == "quorum"
    remote_control = [row for name, row in declared.items() if name.endswith(".pidbox")]
    assert remote_control and all(row["type"] == "classic" for row in remote_control)


def test_rabbitmq_dead_letters_a_message_returned_more_often_than_the_delivery_limit_to_the_dead_queue():
    app.send_task("tests.kill_my_worker", args=["returned"])  # routed to the default queue; no worker takes it
    wait_until(lambda: _depth("default") == 1, timeout=10, what="the message")

    deliveries, last_count = 0, None
    with app.connection_for_write() as connection:
        channel = connection.channel()
        while (message := channel.basic_get("default", no_ack=False)) is not None:
            deliveries += 1
            last_count = (message.headers or {}).get("x-delivery-count")
            channel.basic_reject(message.delivery_tag, requeue=True)
            assert deliveries <= settings.CELERY_QUEUE_DELIVERY_LIMIT + 5, "RabbitMQ never dropped the message"
        channel.close()

    assert deliveries == settings.CELERY_QUEUE_DELIVERY_LIMIT + 1
    assert last_count == settings.CELERY_QUEUE_DELIVERY_LIMIT
    assert _depth("default") == 0
    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == 1, timeout=10, what="the message in the dead queue")


@pytest.mark.slow
def test_a_poison_message_is_dead_lettered_by_us_from_rabbitmqs_count_before_rabbitmq_would_drop_it(start_worker):
    start_worker(TASK_MAX_DELIVERIES="2")
    result = app.send_task("tests.kill_my_worker", args=["poison"])

    wait_until(DeadLetter.objects.exists, timeout=60, what="the poison message's dead letter")

    letter = DeadLetter.objects.get()
    assert (letter.task_id, letter.reason, letter.deliveries) == (result.id, "poison", 3)
    assert settings.CELERY_QUEUE_DELIVERY_LIMIT >= 3  # RabbitMQ would still have delivered it
    assert not get_client("write").keys(f"*task-deliveries:{result.id}:*")  # counted by the broker, not in Redis
    wait_until(lambda: _depth("default") == 0, timeout=10, what="the message to be acknowledged")


def test_a_countdown_under_a_second_waits_a_whole_second_in_rabbitmqs_delay_queues():
    app.send_task("tests.kill_my_worker", args=["later"], countdown=0.2)
    published = time.monotonic()

    assert _depth("default") == 0
    wait_until(lambda: _depth("default") == 1, timeout=10, interval=0.05, what="the delayed message")
    assert time.monotonic() - published >= 0.9
    [message] = amqp_queue_messages("default")
    assert message["headers"]["task"] == "tests.kill_my_worker"


def test_queue_depths_are_read_from_rabbitmq_and_the_oldest_age_is_unknown():
    for n in range(3):
        app.send_task("payments.invalidate_student_cache", args=[n])

    wait_until(lambda: _depth("cache") == 3, timeout=10, what="three messages in cache")
    readings = {q["name"]: q for q in queues_read()}

    assert readings["cache"] == {"name": "cache", "depth": 3, "oldest_age_s": None}
    assert readings["purchases"]["depth"] == 0


def test_the_workers_page_says_the_oldest_age_is_unknown_with_this_broker(staff_client):
    page = staff_client.get("/ops/workers").content.decode()
    body = staff_client.get("/api/ops/workers").json()

    assert "unknown with this broker" in page
    assert (body["broker"], body["oldest_age_known"]) == ("amqp", False)
    assert workers.workers_reading_build()["oldest_age_known"] is False
