from __future__ import annotations

import pytest

from apps.directory.selectors import student_user_id_list, trainer_user_id_list
from tests.factories import StudentFactory, TrainerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_only_students_with_a_login_give_a_user_id():
    with_login, without = StudentFactory(user=UserFactory()), StudentFactory(user=None)

    assert student_user_id_list(student_ids=[with_login.id, without.id]) == [with_login.user_id]


def test_only_trainers_with_a_login_give_a_user_id():
    with_login, without = TrainerFactory(user=UserFactory()), TrainerFactory(user=None)

    assert trainer_user_id_list(trainer_ids=[with_login.id, without.id]) == [with_login.user_id]
