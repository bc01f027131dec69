from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from apps.allocations.models import TrainerAllocation
from tests.factories import AllocationFactory, PurchaseFactory

pytestmark = pytest.mark.django_db

Status = TrainerAllocation.Status


@pytest.mark.parametrize("first_status", TrainerAllocation.OPEN_STATUSES)
@pytest.mark.parametrize("second_status", TrainerAllocation.OPEN_STATUSES)
def test_a_second_open_allocation_for_a_purchase_is_rejected(first_status, second_status):
    first = AllocationFactory(status=first_status)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        AllocationFactory(purchase=first.purchase, status=second_status)

    assert "trainer_allocations_purchase_open_uniq" in str(excinfo.value)


@pytest.mark.parametrize("closed_status", [Status.CANCELLED, Status.REJECTED, Status.COMPLETED])
def test_a_new_open_allocation_after_the_first_is_closed_is_accepted(closed_status):
    first = AllocationFactory(status=Status.PENDING)
    TrainerAllocation.objects.filter(pk=first.pk).update(status=closed_status)

    second = AllocationFactory(purchase=first.purchase, status=Status.PENDING)

    assert TrainerAllocation.objects.get(purchase=first.purchase, status__in=TrainerAllocation.OPEN_STATUSES) == second


def test_many_closed_allocations_for_one_purchase_are_accepted():
    purchase = PurchaseFactory()

    AllocationFactory.create_batch(3, purchase=purchase, status=Status.REJECTED)

    assert purchase.allocations.count() == 3


def test_reopening_a_closed_allocation_beside_an_open_one_is_rejected():
    closed = AllocationFactory(status=Status.CANCELLED)
    AllocationFactory(purchase=closed.purchase, status=Status.ACTIVE)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        TrainerAllocation.objects.filter(pk=closed.pk).update(status=Status.PENDING)

    assert "trainer_allocations_purchase_open_uniq" in str(excinfo.value)


def test_an_active_allocation_without_a_trainer_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        AllocationFactory(status=Status.ACTIVE, trainer=None)

    assert "trainer_allocations_active_has_trainer" in str(excinfo.value)


def test_activating_a_pending_allocation_without_a_trainer_is_rejected():
    allocation = AllocationFactory(status=Status.PENDING, trainer=None)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        TrainerAllocation.objects.filter(pk=allocation.pk).update(status=Status.ACTIVE)

    assert "trainer_allocations_active_has_trainer" in str(excinfo.value)


@pytest.mark.parametrize("status", [Status.PENDING, Status.CANCELLED, Status.REJECTED])
def test_an_allocation_that_is_not_active_may_have_no_trainer(status):
    allocation = AllocationFactory(status=status, trainer=None)

    assert TrainerAllocation.objects.get(pk=allocation.pk).trainer is None


def test_an_allocation_with_an_unknown_status_is_rejected():
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        AllocationFactory(status="assigned")

    assert "trainer_allocations_status_valid" in str(excinfo.value)
