"""ReliableTask's signature check, read once per task and applied to every call."""

from __future__ import annotations

import pytest

from apps.pipeline.tasks import purchases_create_from_payment
from apps.workers.models import DeadLetter

pytestmark = pytest.mark.django_db


def test_every_call_with_the_wrong_arguments_is_dead_lettered_for_validation():
    purchases_create_from_payment()
    purchases_create_from_payment(1, 2)

    letters = sorted(DeadLetter.objects.values_list("reason", "args"), key=lambda letter: len(letter[1]))
    assert letters == [("validation", []), ("validation", [1, 2])]


def test_a_task_whose_run_is_replaced_is_checked_against_the_new_signature(monkeypatch):
    task = purchases_create_from_payment._get_current_object()
    purchases_create_from_payment(0)  # reads the signature of the original run
    monkeypatch.setattr(task, "run", lambda payment_id, extra: None)

    task(1)

    assert DeadLetter.objects.filter(reason="validation", args=[1]).exists()
