from __future__ import annotations

import pytest

from apps.allocations.models import TrainerAllocation
from apps.allocations.selectors import allocation_count_for_trainer, allocation_list_for_student
from tests.support.plans import indexes_used

pytestmark = pytest.mark.django_db


def test_student_allocations_by_status_and_course_use_the_student_status_course_index(seeded_platform):
    allocation = TrainerAllocation.objects.filter(status="active").first()

    query = allocation_list_for_student(
        student_id=allocation.student_id, status="active", course_id=allocation.course_id
    )

    assert indexes_used(query) == {"trainer_allocations_student_status_course_idx"}
    assert allocation in list(query)


def test_student_allocations_by_status_alone_use_the_same_index(seeded_platform):
    allocation = TrainerAllocation.objects.filter(status="active").first()

    query = allocation_list_for_student(student_id=allocation.student_id, status="active")

    assert indexes_used(query) == {"trainer_allocations_student_status_course_idx"}


def test_trainer_load_uses_the_trainer_status_index(seeded_platform):
    allocation = TrainerAllocation.objects.filter(status="active").first()
    query = TrainerAllocation.objects.filter(trainer_id=allocation.trainer_id, status="active")

    assert indexes_used(query) == {"trainer_allocations_trainer_status_idx"}
    assert allocation_count_for_trainer(trainer_id=allocation.trainer_id) == query.count() >= 1
