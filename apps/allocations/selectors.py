from __future__ import annotations

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

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


def trainer_list_with_load(*, trainers: QuerySet[Trainer]) -> QuerySet[Trainer]:
    """`trainers`, each annotated with `active_load`: its active allocations, to set against its capacity.

    A correlated count per trainer shown (trainer_allocations_trainer_status_idx), not a GROUP BY over
    every allocation: a page of 100 trainers costs 100 small index counts inside the one list query.
    """
    load = (
        TrainerAllocation.objects.filter(trainer=OuterRef("pk"), status=TrainerAllocation.Status.ACTIVE)
        .order_by()
        .values("trainer")
        .annotate(n=Count("id"))
        .values("n")
    )
    return trainers.annotate(active_load=Coalesce(Subquery(load, output_field=IntegerField()), 0))


# Written out rather than built with the ORM: it runs once per allocation, and building and compiling the
# ORM's equivalent (a correlated count annotation, ordered) cost ~1.5 ms of a worker's CPU each time, five
# times what PostgreSQL takes to run it (docs/BENCHMARKS.md, "Pipeline throughput"). The load is the same
# correlated index count as trainer_list_with_load's.
_CANDIDATES_SQL = """
    SELECT trainer.id
    FROM trainers AS trainer
    JOIN trainer_courses AS teaches ON teaches.trainer_id = trainer.id
    WHERE teaches.course_id = (SELECT course_id FROM student_course_purchases WHERE id = %(purchase_id)s)
      AND trainer.status = %(trainer_active)s
    ORDER BY (
        SELECT count(*) FROM trainer_allocations AS allocation
        WHERE allocation.trainer_id = trainer.id AND allocation.status = %(allocation_active)s
    ), trainer.id
"""


def allocation_candidate_trainer_ids(*, purchase_id: int) -> list[int]:
    """Active trainers of the purchase's course, least loaded (active allocations) first, then by id.

    A hint: capacity is re-checked under the trainer's lock. Runs one query, the purchase's course
    read inside it (no candidates for a purchase that does not exist); each trainer's load is an index
    count of its active allocations (trainer_allocations_trainer_status_idx), not a join over every
    allocation the course's trainers ever had.
    """
    parameters: dict[str, int | str] = {
        "purchase_id": purchase_id,
        "trainer_active": str(Trainer.Status.ACTIVE.value),
        "allocation_active": str(TrainerAllocation.Status.ACTIVE.value),
    }
    with connection.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL, parameters)
        return [trainer_id for (trainer_id,) in cursor.fetchall()]
