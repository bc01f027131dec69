"""A dead-letter replay goes through the outbox: "replayed" commits with a durable hand-off, sent now or by the relay."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.outbox.models import OutboxMessage
from apps.outbox.services import outbox_relay_batch
from apps.workers.models import DeadLetter
from apps.workers.services import REPLAY_HEADER, deadletter_replay
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_replay_with_the_broker_frozen_is_kept_in_the_outbox_under_its_task_id(stalled_broker):
    letter = DeadLetterFactory(correlation_id="corr-replay-1")

    plan = deadletter_replay(deadletter_id=letter.id)

    letter.refresh_from_db()
    message = OutboxMessage.objects.get()
    assert letter.status == DeadLetter.Status.REPLAYED
    assert (message.task_name, message.args) == (letter.task_name, letter.args)
    assert message.options == {"task_id": plan.task_id, "headers": {REPLAY_HEADER: str(letter.id)}}
    assert message.correlation_id == "corr-replay-1"


def test_a_replay_is_published_under_the_task_id_the_letter_stores_with_its_header(broker):
    letter = DeadLetterFactory()

    plan = deadletter_replay(deadletter_id=letter.id)

    [sent] = broker.messages("purchases")
    assert sent["headers"]["id"] == plan.task_id == DeadLetter.objects.get(id=letter.id).replayed_task_id
    assert sent["headers"][REPLAY_HEADER] == str(letter.id)
    assert not OutboxMessage.objects.exists()


def test_the_relay_sends_a_replay_left_behind_with_its_task_id_and_header(broker):
    letter = DeadLetterFactory()
    OutboxMessage.objects.create(
        task_name=letter.task_name,
        args=letter.args,
        options={"task_id": "replay-task-1", "headers": {REPLAY_HEADER: str(letter.id)}},
        available_at=timezone.now(),
    )

    outbox_relay_batch(limit=10)

    [sent] = broker.messages("purchases")
    assert (sent["headers"]["id"], sent["headers"][REPLAY_HEADER]) == ("replay-task-1", str(letter.id))
