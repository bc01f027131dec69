"""Ledger pages in the admin: no add, no edit, no delete (bulk included), and no Save buttons on the record."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.telemetry.models import Alert
from tests.factories import AllocationFactory, PaymentFactory, PurchaseFactory
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db

LEDGERS = {
    "payments_payment": PaymentFactory,
    "purchases_studentcoursepurchase": PurchaseFactory,
    "allocations_trainerallocation": AllocationFactory,
    "telemetry_alert": lambda: Alert.objects.create(rule="pool_usage", since=timezone.now(), summary="pool 90 %"),
    "deadletters_deadletter": DeadLetterFactory,
}


@pytest.mark.parametrize("model", LEDGERS)
def test_a_ledger_record_opens_read_only_with_no_save_button(staff_client, model):
    record = LEDGERS[model]()

    response = staff_client.get(reverse(f"admin:{model}_change", args=[record.pk]))

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert 'name="_continue"' not in response.content.decode()


@pytest.mark.parametrize("model", LEDGERS)
def test_a_ledger_record_cannot_be_added_or_deleted(staff_client, model):
    record = LEDGERS[model]()

    assert staff_client.get(reverse(f"admin:{model}_add")).status_code == 403
    assert staff_client.post(reverse(f"admin:{model}_delete", args=[record.pk]), {"post": "yes"}).status_code == 403
    assert type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("model", LEDGERS)
def test_a_ledger_list_offers_no_bulk_delete(staff_client, model):
    record = LEDGERS[model]()

    response = staff_client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )

    assert type(record).objects.filter(pk=record.pk).exists()
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("model", LEDGERS)
def test_a_ledger_record_cannot_be_edited_by_a_post(staff_client, model):
    record = LEDGERS[model]()

    response = staff_client.post(reverse(f"admin:{model}_change", args=[record.pk]), {})

    assert response.status_code == 403
