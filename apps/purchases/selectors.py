from __future__ import annotations

from dataclasses import dataclass

from apps.purchases.models import StudentCoursePurchase
from lib.db import sql_row, sql_rows

# The purchase step's reads are written in SQL: they run once per purchase, and building and compiling the
# ORM's queries cost a worker three to six times what PostgreSQL takes to run them (docs/BENCHMARKS.md,
# "Pipeline throughput"). Table and column names are the models' (tests/purchases runs each one).


@dataclass(frozen=True)
class PaymentToPurchase:
    status: str
    student_id: int
    course_id: int
    student_status: str


def purchase_lock_payment(*, payment_id: int) -> PaymentToPurchase | None:
    """Lock the payment's row until the transaction ends, and read its student's status; None when it does
    not exist. Only the payment's row: the student's would block every insert that references the student
    meanwhile. Runs one query."""
    row = sql_row(
        """
        SELECT payment.status, payment.student_id, payment.course_id, student.status
        FROM payments AS payment JOIN students AS student ON student.id = payment.student_id
        WHERE payment.id = %s
        FOR UPDATE OF payment
        """,
        [payment_id],
    )
    return PaymentToPurchase(*row) if row else None


@dataclass(frozen=True)
class PurchaseFound:
    id: int
    payment_id: int


def purchase_list_for_payment_or_active(*, payment_id: int, student_id: int, course_id: int) -> list[PurchaseFound]:
    """The purchase a payment produced and the student's active purchase of the course: none, one (possibly
    both at once) or two. Runs one query (student_course_purchases_payment_uniq or
    student_course_purchases_active_uniq, each at most one row)."""
    rows = sql_rows(
        """
        SELECT id, payment_id FROM student_course_purchases
        WHERE payment_id = %s OR (student_id = %s AND course_id = %s AND is_active)
        """,
        [payment_id, student_id, course_id],
    )
    return [PurchaseFound(*row) for row in rows]


def purchase_get_for_payment(*, payment_id: int) -> StudentCoursePurchase | None:
    """The purchase a payment produced (student_course_purchases_payment_uniq). Runs one query."""
    return StudentCoursePurchase.objects.filter(payment_id=payment_id).first()
