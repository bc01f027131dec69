from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.allocations.models import TrainerAllocation
from apps.directory.models import Trainer
from lib.db import sql_row, sql_rows


def allocation_get_with_course(*, allocation_id: int) -> TrainerAllocation | None:
    """One allocation with its course (primary keys). Runs one query."""
    return TrainerAllocation.objects.select_related("course").filter(id=allocation_id).first()


# The allocator's reads are written in SQL: each runs once or more per allocation, and building and compiling
# the ORM's query cost a worker three to six times what PostgreSQL takes to run it (docs/BENCHMARKS.md,
# "Pipeline throughput"). Table and column names are the models'; tests/allocations and tests/pipeline run
# each statement against the real schema.


@dataclass(frozen=True)
class PurchaseToAllocate:
    student_id: int
    course_id: int
    is_active: bool


def allocation_lock_purchase(*, purchase_id: int) -> PurchaseToAllocate | None:
    """Lock the purchase's row until the transaction ends (SELECT ... FOR UPDATE): allocators of one purchase
    run one at a time. None when it does not exist. Runs one query."""
    row = sql_row(
        "SELECT student_id, course_id, is_active FROM student_course_purchases WHERE id = %s FOR UPDATE",
        [purchase_id],
    )
    return PurchaseToAllocate(*row) if row else None


@dataclass(frozen=True)
class TrainerRoom:
    status: str
    capacity: int


def allocation_lock_trainer(*, trainer_id: int, wait: bool) -> TrainerRoom | None:
    """Lock the trainer's row until the transaction ends; None when it does not exist or, with `wait` False,
    another transaction holds it (SKIP LOCKED). Runs one query."""
    skip = "" if wait else " SKIP LOCKED"
    row = sql_row(f"SELECT status, capacity FROM trainers WHERE id = %s FOR UPDATE{skip}", [trainer_id])
    return TrainerRoom(*row) if row else None


def allocation_open_id_for_purchase(*, purchase_id: int) -> int | None:
    """The id of the purchase's open allocation (trainer_allocations_purchase_open_uniq). Runs one query."""
    open_statuses = [str(status.value) for status in TrainerAllocation.OPEN_STATUSES]
    row = sql_row(
        "SELECT id FROM trainer_allocations WHERE purchase_id = %s AND status = ANY(%s)", [purchase_id, open_statuses]
    )
    return row[0] if row else None


def allocation_count_for_trainer(*, trainer_id: int, status: str = TrainerAllocation.Status.ACTIVE) -> int:
    """How many allocations a trainer carries in a status, for capacity checks
    (trainer_allocations_trainer_status_idx). Runs one query."""
    row = sql_row(
        "SELECT count(*) FROM trainer_allocations WHERE trainer_id = %s AND status = %s", [trainer_id, str(status)]
    )
    assert row is not None  # count(*) returns one row
    return int(row[0])


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
    return [trainer_id for (trainer_id,) in sql_rows(_CANDIDATES_SQL, parameters)]
