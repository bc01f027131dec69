from __future__ import annotations

from collections.abc import Iterable

from apps.directory.models import Course, Student, Trainer


def student_exists(*, student_id: int) -> bool:
    """Whether the student exists (primary key). Runs one query."""
    return Student.objects.filter(id=student_id).exists()


def course_exists(*, course_id: int) -> bool:
    """Whether the course exists (primary key). Runs one query."""
    return Course.objects.filter(id=course_id).exists()


def student_user_id_list(*, student_ids: Iterable[int]) -> list[int]:
    """The logins of those students that have one (primary key). Runs one query."""
    return list(Student.objects.filter(id__in=student_ids, user__isnull=False).values_list("user_id", flat=True))


def trainer_user_id_list(*, trainer_ids: Iterable[int]) -> list[int]:
    """The logins of those trainers that have one (primary key). Runs one query."""
    return list(Trainer.objects.filter(id__in=trainer_ids, user__isnull=False).values_list("user_id", flat=True))
