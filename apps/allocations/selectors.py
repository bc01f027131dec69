from __future__ import annotations

from django.db.models import QuerySet

from apps.allocations.models import TrainerAllocation


def allocation_list_for_student(
    *, student_id: int, status: str, course_id: int | None = None
) -> QuerySet[TrainerAllocation]:
    """A student's allocations in one status, optionally for one course
    (trainer_allocations_student_status_course_idx)."""
    allocations = TrainerAllocation.objects.filter(student_id=student_id, status=status)
    if course_id is not None:
        allocations = allocations.filter(course_id=course_id)
    return allocations


def allocation_count_for_trainer(*, trainer_id: int, status: str = TrainerAllocation.Status.ACTIVE) -> int:
    """How many allocations a trainer carries in a status, for capacity checks
    (trainer_allocations_trainer_status_idx). Runs one query."""
    return TrainerAllocation.objects.filter(trainer_id=trainer_id, status=status).count()
