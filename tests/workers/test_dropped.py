"""What RabbitMQ gives up on (a message past the quorum queue's delivery limit) becomes a dead letter.

RabbitMQ only, like tests/workers/test_rabbitmq.py: `make test-rabbitmq` runs them; `make test` skips them, saying so.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import OperationalError

from apps.workers import dropped
from apps.workers.dropped import deadletter_collect_dropped
from apps.workers.models import DeadLetter
from apps.workers.services import deadletter_replay
from lib.context import reset_correlation_id, set_correlation_id
from lib.redis import get_client
from ops_console.celery import app
from ops_console.queues import DEAD_QUEUE
from tests.support.amqp import amqp_queue_depth
from tests.support.waiting import wait_until
from tests.workers.poison_tasks import cured_key, ran_key

pytestmark = [
    pytest.mark.skipif(
        settings.CELERY_BROKER_KIND != "amqp",
        reason="RabbitMQ only: `make test-rabbitmq` runs it with CELERY_BROKER_URL=amqp://…",
    ),
    pytest.mark.django_db(transaction=True),
]

KILLER = "tests.die_until_cured"


def _send_killer(marker: str, *, correlation_id: str = "", queue: str = "default") -> str:
    token = set_correlation_id(correlation_id or None)
    try:
        return app.send_task(KILLER, args=[marker], kwargs={"note": "hello"}, queue=queue).id
    finally:
        reset_correlation_id(token)


def _return_until_dead_lettered(queue: str = "default", *, dead: int = 1) -> None:
    """Take the queue's message and give it back, as a dying worker does, until RabbitMQ gives up on it."""
    wait_until(lambda: amqp_queue_depth(queue) == 1, timeout=10, what=f"the message in {queue}")
    with app.connection_for_write() as connection:
        channel = connection.channel()
        for _ in range(settings.CELERY_QUEUE_DELIVERY_LIMIT + 5):
            if (message := channel.basic_get(queue, no_ack=False)) is None:
                break
            channel.basic_reject(message.delivery_tag, requeue=True)
        channel.close()
    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == dead, timeout=10, what="the message in the dead queue")


@pytest.mark.slow
def test_a_task_that_kills_its_worker_on_every_delivery_ends_as_one_dead_letter_past_the_delivery_limit(
    start_worker,
):
    start_worker()
    marker = uuid.uuid4().hex
    task_id = _send_killer(marker, correlation_id="killed-every-time")

    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == 1, timeout=180, what="RabbitMQ to give up on the message")
    app.send_task("deadletters.collect_dropped")
    wait_until(DeadLetter.objects.exists, timeout=30, what="the dropped message's dead letter")

    letter = DeadLetter.objects.get()
    deliveries = settings.CELERY_QUEUE_DELIVERY_LIMIT + 1
    assert (letter.task_id, letter.task_name, letter.queue) == (task_id, KILLER, "default")
    assert (letter.args, letter.kwargs) == ([marker], {"note": "hello"})
    assert (letter.reason, letter.deliveries) == ("delivery_limit", deliveries)
    assert letter.correlation_id == "killed-every-time"
    assert letter.message.startswith(
        f"delivery limit exceeded: the message was delivered {deliveries} times without an ack"
    )
    assert "'reason': 'delivery_limit'" in letter.message.replace('"', "'")
    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == 0, timeout=10, what="the dead queue acknowledged")
    assert amqp_queue_depth("default") == 0


@pytest.mark.slow
def test_a_letter_filed_from_the_dead_queue_replays_its_task_with_its_arguments(start_worker):
    marker = uuid.uuid4().hex
    _send_killer(marker)
    _return_until_dead_lettered()
    deadletter_collect_dropped()
    get_client("write").set(cured_key(marker), "1", ex=300)
    start_worker()

    deadletter_replay(deadletter_id=DeadLetter.objects.get().id)

    wait_until(lambda: get_client("read").get(ran_key(marker)) is not None, timeout=30, what="the replayed task")
    assert get_client("read").get(ran_key(marker)) in ("hello", b"hello")


def test_a_message_is_left_in_the_dead_queue_when_its_letter_cannot_be_written(monkeypatch):
    _send_killer(uuid.uuid4().hex)
    _return_until_dead_lettered()

    def database_down(**_):
        raise OperationalError("the database is away")

    monkeypatch.setattr(dropped, "deadletter_record", database_down)
    with pytest.raises(OperationalError):
        deadletter_collect_dropped()

    assert not DeadLetter.objects.exists()
    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == 1, timeout=10, what="the message back in the dead queue")


def test_the_same_message_dead_lettered_twice_is_one_letter():
    _send_killer("twice")
    _return_until_dead_lettered()
    deadletter_collect_dropped()
    with app.connection_for_write() as connection:  # at-least-once: RabbitMQ may deliver it to the dead queue again
        producer = connection.Producer()
        letter = DeadLetter.objects.get()
        headers = {"id": letter.task_id, "task": KILLER, "x-death": [{"reason": "delivery_limit", "queue": "default"}]}
        body = [["twice"], {"note": "hello"}, {}]
        producer.publish(body, exchange=DEAD_QUEUE, routing_key=DEAD_QUEUE, headers=headers, serializer="json")

    summary = deadletter_collect_dropped()

    assert summary.recorded == 1
    assert DeadLetter.objects.get().failures == 2


def test_one_run_files_at_most_its_batch_and_leaves_the_rest():
    for dead, queue in enumerate(("default", "cache"), start=1):
        _send_killer(f"batch-{queue}", queue=queue)
        _return_until_dead_lettered(queue, dead=dead)

    summary = deadletter_collect_dropped(limit=1)

    assert (summary.recorded, summary.left) == (1, True)
    assert DeadLetter.objects.count() == 1
    assert amqp_queue_depth(DEAD_QUEUE) == 1


def test_a_message_a_worker_rejects_without_requeue_is_filed_as_rejected():
    _send_killer("unknown-to-the-worker")
    wait_until(lambda: amqp_queue_depth("default") == 1, timeout=10, what="the message")
    with app.connection_for_write() as connection:
        channel = connection.channel()
        channel.basic_reject(channel.basic_get("default", no_ack=False).delivery_tag, requeue=False)
        channel.close()
    wait_until(lambda: amqp_queue_depth(DEAD_QUEUE) == 1, timeout=10, what="the message in the dead queue")

    deadletter_collect_dropped()

    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.deliveries, letter.args) == ("rejected", 1, ["unknown-to-the-worker"])
