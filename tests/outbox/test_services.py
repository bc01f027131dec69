"""The outbox: a hand-off commits with the change, is published at once when it can be, and by the relay when not."""

from __future__ import annotations

import datetime
import time

import kombu.pools
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.outbox.models import OutboxMessage
from apps.outbox.services import (
    SendOptions,
    _publish_connection,
    outbox_enqueue,
    outbox_forget_published,
    outbox_publish,
    outbox_relay_batch,
)
from lib.context import reset_correlation_id, set_correlation_id
from ops_console.celery import app
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _due_message(**fields) -> OutboxMessage:
    defaults = {"task_name": "purchases.create_from_payment", "args": [1], "available_at": timezone.now()}
    return OutboxMessage.objects.create(**{**defaults, **fields})


def test_a_committed_hand_off_is_published_and_its_row_removed(broker):
    with transaction.atomic():
        outbox_enqueue(task_name="purchases.create_from_payment", args=[7])

    assert broker.tasks("purchases") == ["purchases.create_from_payment"]
    assert not OutboxMessage.objects.exists()


def test_a_hand_off_row_keeps_everything_the_relay_needs_to_publish_it_again(stalled_broker, settings):
    settings.OUTBOX_RELAY_GRACE = 5
    token = set_correlation_id("trace-outbox-row")
    try:
        with transaction.atomic():
            outbox_enqueue(
                task_name="deadletters.replay",
                args=[7, "seven"],
                kwargs={"dry_run": False},
                options=SendOptions(task_id="task-7", countdown=1.5, headers={"x-replay-of": "9"}),
            )
    finally:
        reset_correlation_id(token)

    row = OutboxMessage.objects.get()  # the stalled broker took nothing: the row stays for the relay
    assert (row.task_name, row.args, row.kwargs, row.correlation_id) == (
        "deadletters.replay", [7, "seven"], {"dry_run": False}, "trace-outbox-row"
    )  # fmt: skip
    assert row.options == {"task_id": "task-7", "countdown": 1.5, "headers": {"x-replay-of": "9"}}
    assert (row.attempts, row.last_error) == (0, "")
    assert datetime.timedelta(seconds=4) < row.available_at - row.created_at < datetime.timedelta(seconds=6)


def test_published_rows_are_deleted_together_in_the_next_batch(broker, settings):
    settings.OUTBOX_FORGET_INTERVAL = 60  # the writer thread waits: the test writes the batch itself
    for n in range(3):
        with transaction.atomic():
            outbox_enqueue(task_name="purchases.create_from_payment", args=[n])

    assert broker.tasks("purchases") == ["purchases.create_from_payment"] * 3
    assert OutboxMessage.objects.count() == 3
    with CaptureQueriesContext(connection) as queries:
        assert outbox_forget_published() == 3
    assert [query["sql"].split()[0] for query in queries] == ["BEGIN", "DELETE", "COMMIT"]
    assert not OutboxMessage.objects.exists()


def test_the_writer_thread_deletes_published_rows_by_itself(broker, settings):
    settings.OUTBOX_FORGET_INTERVAL = 0.05
    with transaction.atomic():
        outbox_enqueue(task_name="purchases.create_from_payment", args=[7])

    wait_until(lambda: not OutboxMessage.objects.exists(), timeout=5, what="the batch delete")
    assert broker.tasks("purchases") == ["purchases.create_from_payment"]


def test_a_rolled_back_hand_off_is_neither_kept_nor_published(broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task_name="purchases.create_from_payment", args=[7])
        raise RuntimeError("the change failed")

    assert broker.tasks("purchases") == []
    assert not OutboxMessage.objects.exists()


def test_a_hand_off_the_broker_does_not_take_stays_for_the_relay_and_the_caller_carries_on(stalled_broker, settings):
    started = time.monotonic()
    with transaction.atomic():
        outbox_enqueue(task_name="purchases.create_from_payment", args=[7])
    elapsed = time.monotonic() - started

    message = OutboxMessage.objects.get()
    assert (message.task_name, message.args) == ("purchases.create_from_payment", [7])
    assert message.available_at > timezone.now()  # the relay leaves it to its own process for the grace period
    assert elapsed < 1.0


def test_a_publish_to_a_stalled_broker_gives_up_within_its_bound(stalled_broker, settings):
    settings.OUTBOX_PUBLISH_TIMEOUT = 0.2
    message = _due_message()

    started = time.monotonic()
    published = outbox_publish(message=message)

    assert published is False
    assert time.monotonic() - started < 2 * 0.2 + 0.4


def test_the_relay_publishes_due_messages_and_removes_them(broker):
    _due_message(task_name="purchases.create_from_payment", args=[1])
    _due_message(task_name="allocations.assign_trainer", args=[2])

    summary = outbox_relay_batch(limit=10)

    assert (summary.published, summary.failed) == (2, 0)
    assert broker.tasks("purchases") == ["purchases.create_from_payment"]
    assert broker.tasks("allocations") == ["allocations.assign_trainer"]
    assert not OutboxMessage.objects.exists()


def test_the_relay_leaves_messages_inside_their_grace_period_to_their_own_process(broker):
    _due_message(available_at=timezone.now() + datetime.timedelta(seconds=30))

    summary = outbox_relay_batch(limit=10)

    assert summary.published == 0
    assert broker.tasks("purchases") == []
    assert OutboxMessage.objects.count() == 1


def test_the_relay_stops_at_a_refused_publish_and_pushes_that_message_back(stalled_broker):
    first, second = _due_message(args=[1]), _due_message(args=[2])

    summary = outbox_relay_batch(limit=10)

    assert (summary.published, summary.failed) == (0, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attempts == 1 and first.available_at > timezone.now()
    assert second.attempts == 0  # not tried: one bounded attempt per pass while the broker is away


def test_the_relay_keeps_the_correlation_id_of_the_request_that_made_the_hand_off(broker):
    _due_message(correlation_id="req-abc-123")

    outbox_relay_batch(limit=10)

    [message] = broker.messages("purchases")
    assert message["headers"]["x_correlation_id"] == "req-abc-123"


def test_publishes_share_one_connection_template_until_the_broker_or_its_bounds_change(settings):
    first = _publish_connection()

    assert _publish_connection() is first
    settings.OUTBOX_PUBLISH_TIMEOUT = 0.3
    assert _publish_connection() is not first
    timeout = "read_timeout" if settings.CELERY_BROKER_KIND == "amqp" else "socket_timeout"
    assert _publish_connection().transport_options[timeout] == 0.3


def test_a_changed_broker_gets_its_own_connection_template(stalled_broker):
    template = _publish_connection()

    assert "127.0.0.1" in template.as_uri()


@pytest.mark.redis_broker_only(reason="the key prefix is Redis'")
def test_a_new_broker_key_prefix_gets_its_own_connection_template(broker):
    assert _publish_connection().transport_options["global_keyprefix"] == broker.prefix


@pytest.mark.redis_broker_only(reason="kombu's Redis channel and its redis-py client")
def test_a_channel_publishes_through_one_redis_client_under_the_key_prefix(broker):
    with kombu.pools.producers[_publish_connection()].acquire(block=True, timeout=1) as producer:
        app.send_task("purchases.create_from_payment", args=[1], producer=producer)
        client = producer.channel._publish_client
        app.send_task("allocations.assign_trainer", args=[2], producer=producer)

        assert producer.channel._publish_client is client
    assert broker.tasks("purchases") == ["purchases.create_from_payment"]
    assert broker.tasks("allocations") == ["allocations.assign_trainer"]


@pytest.mark.redis_broker_only(reason="freezes Redis as the broker")
def test_a_publish_through_the_reused_client_gives_up_within_its_bound_when_redis_freezes(proxied_broker, settings):
    broker, proxy = proxied_broker
    settings.OUTBOX_PUBLISH_TIMEOUT = 0.2
    assert outbox_publish(message=_due_message(args=[1]))  # the channel and its client are set up
    proxy.freeze()

    started = time.monotonic()
    published = outbox_publish(message=_due_message(args=[2]))
    elapsed = time.monotonic() - started
    proxy.thaw()

    assert published is False
    assert elapsed < 2 * 0.2 + 0.4
    assert outbox_publish(message=_due_message(args=[3]))
    assert broker.messages("purchases")[0]["headers"]["argsrepr"] == "[3]"  # LPUSH: newest first
