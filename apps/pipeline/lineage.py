"""Which payment a pipeline call belongs to, and the calls of one payment: dead letters are tied to payments here.

A pipeline task is called with one id (apps/pipeline/steps.py): the payment's for
create_purchase, the purchase's for assign_trainer, the allocation's for the last two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from apps.allocations.models import TrainerAllocation
from apps.payments.models import Payment, PaymentStatus
from apps.pipeline.steps import ASSIGN_TRAINER, CREATE_PURCHASE, NOTIFY_ALLOCATION, SCHEDULE_SESSIONS
from apps.purchases.models import StudentCoursePurchase

# What each step's one argument is the id of.
ARGUMENT_OF = {
    CREATE_PURCHASE: "payment",
    ASSIGN_TRAINER: "purchase",
    SCHEDULE_SESSIONS: "allocation",
    NOTIFY_ALLOCATION: "allocation",
}

Call = tuple[str, int]


def pipeline_payment_ids_for_calls(*, calls: Iterable[Call]) -> dict[Call, int]:
    """The payment behind each (task name, id) call of the pipeline; calls of other tasks are left out.

    At most two queries, however many calls: the purchases' and the allocations' payments.
    """
    calls = list(calls)
    purchase_ids = {i for task, i in calls if ARGUMENT_OF.get(task) == "purchase"}
    allocation_ids = {i for task, i in calls if ARGUMENT_OF.get(task) == "allocation"}
    of_purchase = dict(
        StudentCoursePurchase.objects.filter(id__in=purchase_ids).values_list("id", "payment_id")
        if purchase_ids
        else []
    )
    of_allocation = dict(
        TrainerAllocation.objects.filter(id__in=allocation_ids).values_list("id", "purchase__payment_id")
        if allocation_ids
        else []
    )
    found: dict[Call, int] = {}
    for task, object_id in calls:
        kind = ARGUMENT_OF.get(task)
        payment_id = {"payment": object_id, "purchase": of_purchase.get(object_id),
                      "allocation": of_allocation.get(object_id)}.get(kind or "")  # fmt: skip
        if payment_id is not None:
            found[(task, object_id)] = payment_id
    return found


def pipeline_calls_for_payment(*, payment_id: int) -> tuple[tuple[str, tuple[int]], ...]:
    """Every pipeline call one payment led to, as (task name, args): two queries (purchases, allocations)."""
    purchases = list(StudentCoursePurchase.objects.filter(payment_id=payment_id).values_list("id", flat=True))
    allocations = list(TrainerAllocation.objects.filter(purchase_id__in=purchases).values_list("id", flat=True))
    return (
        (CREATE_PURCHASE, (payment_id,)),
        *((ASSIGN_TRAINER, (i,)) for i in purchases),
        *((task, (i,)) for i in allocations for task in (SCHEDULE_SESSIONS, NOTIFY_ALLOCATION)),
    )


def refunded_payment_guard(task_name: str) -> Callable[..., str | None]:
    """A task's replay guard: why a replay of `task_name(id)` must not run, when its payment was refunded since."""

    def guard(object_id: object, *args: object, **kwargs: object) -> str | None:
        if not isinstance(object_id, int) or isinstance(object_id, bool):
            return None  # the signature check refuses it first
        payment_id = pipeline_payment_ids_for_calls(calls=[(task_name, object_id)]).get((task_name, object_id))
        if payment_id is None:
            return None
        status = Payment.objects.filter(id=payment_id).values_list("status", flat=True).first()
        return f"payment {payment_id} has been refunded since" if status == PaymentStatus.REFUNDED else None

    return guard
