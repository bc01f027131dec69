from __future__ import annotations

import pytest

from apps.allocations.models import TrainerAllocation
from apps.allocations.selectors import (
    allocation_candidate_trainer_ids,
    allocation_count_for_trainer,
    allocation_open_id_for_purchase,
)
from apps.purchases.models import StudentCoursePurchase
from tests.factories import AllocationFactory, CourseFactory, PaymentFactory, PurchaseFactory, TrainerFactory
from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db


def test_trainer_load_uses_the_trainer_status_index(seeded_platform):
    allocation = TrainerAllocation.objects.filter(status="active").first()

    used = indexes_used_by(lambda: allocation_count_for_trainer(trainer_id=allocation.trainer_id))

    assert used == {"trainer_allocations_trainer_status_idx"}


def test_a_purchases_open_allocation_is_found_through_the_partial_unique_index(seeded_platform):
    allocation = TrainerAllocation.objects.filter(status="active").first()

    used = indexes_used_by(lambda: allocation_open_id_for_purchase(purchase_id=allocation.purchase_id))

    assert used == {"trainer_allocations_purchase_open_uniq"}


def test_candidate_trainers_are_the_courses_active_ones_least_loaded_first():
    course = CourseFactory()
    busy, idle = TrainerFactory(), TrainerFactory()
    on_leave = TrainerFactory(status="on_leave")
    for trainer in (busy, idle, on_leave):
        trainer.courses.add(course)
    AllocationFactory(trainer=busy)
    TrainerFactory().courses.add(CourseFactory())
    purchase = PurchaseFactory(payment=PaymentFactory(course=course))

    assert allocation_candidate_trainer_ids(purchase_id=purchase.id) == [idle.id, busy.id]


def test_only_active_allocations_count_towards_a_candidates_load():
    course = CourseFactory()
    veteran, newcomer = TrainerFactory(), TrainerFactory()
    for trainer in (veteran, newcomer):
        trainer.courses.add(course)
    AllocationFactory.create_batch(3, trainer=veteran, status="completed")
    AllocationFactory(trainer=newcomer)
    purchase = PurchaseFactory(payment=PaymentFactory(course=course))

    assert allocation_candidate_trainer_ids(purchase_id=purchase.id) == [veteran.id, newcomer.id]


def test_a_purchase_that_does_not_exist_has_no_candidate_trainers():
    TrainerFactory().courses.add(CourseFactory())

    assert allocation_candidate_trainer_ids(purchase_id=0) == []


def test_candidate_ranking_counts_each_trainers_load_through_the_trainer_status_index(seeded_platform):
    purchase = StudentCoursePurchase.objects.filter(is_active=True).first()

    used = indexes_used_by(lambda: allocation_candidate_trainer_ids(purchase_id=purchase.id))

    assert "trainer_allocations_trainer_status_idx" in used
