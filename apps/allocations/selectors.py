from __future__ import annotations

from django.db.models import Count, Q

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Trainer


def allocation_get_with_course(*, allocation_id: int) -> TrainerAllocation | None:
    """One allocation with its course (primary keys). Runs one query."""
    return TrainerAllocation.objects.select_related("course").filter(id=allocation_id).first()


def allocation_get_open_for_purchase(*, purchase_id: int) -> TrainerAllocation | None:
    """The purchase's open allocation (trainer_allocations_purchase_open_uniq). Runs one query."""
    return TrainerAllocation.objects.filter(purchase_id=purchase_id, status__in=TrainerAllocation.OPEN_STATUSES).first()


def allocation_count_for_trainer(*, trainer_id: int, status: str = TrainerAllocation.Status.ACTIVE) -> int:
    """How many allocations a trainer carries in a status, for capacity checks
    (trainer_allocations_trainer_status_idx). Runs one query."""
    return TrainerAllocation.objects.filter(trainer_id=trainer_id, status=status).count()


def allocation_candidate_trainer_ids(*, course_id: int) -> list[int]:
    """Active trainers of the course, least loaded (active allocations) first, then by id.

    A hint: capacity is re-checked under the trainer's lock. Runs one query.
    """
    return list(
        Trainer.objects.filter(courses=course_id, status=Trainer.Status.ACTIVE)
        .annotate(load=Count("allocations", filter=Q(allocations__status=TrainerAllocation.Status.ACTIVE)))
        .order_by("load", "id")
        .values_list("id", flat=True)
    )
