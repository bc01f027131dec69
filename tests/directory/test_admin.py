from __future__ import annotations

import pytest
from django.urls import reverse

from apps.directory.models import Course, Student, Trainer
from tests.factories import AllocationFactory, CourseFactory, StudentFactory, TrainerFactory
from tests.support.admin import changelist_query_count

pytestmark = pytest.mark.django_db


def test_the_student_changelist_runs_as_many_queries_for_500_students_as_for_10(staff_client):
    url = reverse("admin:directory_student_changelist")
    StudentFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    Student.objects.bulk_create(StudentFactory.build_batch(490))

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10


def test_the_course_changelist_runs_as_many_queries_for_500_courses_as_for_10(staff_client):
    url = reverse("admin:directory_course_changelist")
    CourseFactory.create_batch(10)
    queries_for_10 = changelist_query_count(staff_client, url)
    Course.objects.bulk_create(CourseFactory.build_batch(490))

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10


def test_the_trainer_changelist_runs_as_many_queries_for_500_trainers_as_for_10(staff_client):
    url = reverse("admin:directory_trainer_changelist")
    course = CourseFactory()
    for trainer in TrainerFactory.create_batch(10):
        trainer.courses.add(course)
    queries_for_10 = changelist_query_count(staff_client, url)
    trainers = Trainer.objects.bulk_create(TrainerFactory.build_batch(490))
    Trainer.courses.through.objects.bulk_create(
        [Trainer.courses.through(trainer=trainer, course=course) for trainer in trainers]
    )

    queries_for_500 = changelist_query_count(staff_client, url)

    assert queries_for_500 == queries_for_10


def test_students_can_be_found_by_email(staff_client):
    student = StudentFactory(email="ada.abara@example.test")
    other = StudentFactory(email="ben.berg@example.test")

    response = staff_client.get(reverse("admin:directory_student_changelist"), {"q": "ada.abara@example.test"})

    assert response.status_code == 200
    assert reverse("admin:directory_student_change", args=[student.pk]) in response.content.decode()
    assert reverse("admin:directory_student_change", args=[other.pk]) not in response.content.decode()


def test_the_trainer_list_shows_each_trainers_active_load_against_capacity(staff_client):
    trainer = TrainerFactory(capacity=3)
    AllocationFactory.create_batch(2, trainer=trainer)
    AllocationFactory(trainer=trainer, status="completed")

    content = staff_client.get(reverse("admin:directory_trainer_changelist")).content.decode()

    assert '<span class="load load-room">2 / 3</span>' in content


def test_a_full_trainer_is_marked_full_on_the_list_and_on_its_page(staff_client):
    trainer = TrainerFactory(capacity=2)
    AllocationFactory.create_batch(2, trainer=trainer)

    listed = staff_client.get(reverse("admin:directory_trainer_changelist")).content.decode()
    page = staff_client.get(reverse("admin:directory_trainer_change", args=[trainer.pk])).content.decode()

    assert '<span class="load load-full">2 / 2</span>' in listed
    assert '<span class="load load-full">2 / 2</span>' in page


@pytest.mark.parametrize("term", ["ada", "ADA AB", "ada.ab"])
def test_students_are_found_by_the_start_of_their_name_or_email(staff_client, term):
    student = StudentFactory(full_name="Ada Abara", email="ada.abara@example.test")
    other = StudentFactory(full_name="Ben Berg", email="ben.berg@example.test")

    content = staff_client.get(reverse("admin:directory_student_changelist"), {"q": term}).content.decode()

    assert reverse("admin:directory_student_change", args=[student.pk]) in content
    assert reverse("admin:directory_student_change", args=[other.pk]) not in content


def test_a_word_inside_a_name_is_not_searched_and_the_page_says_so(staff_client):
    student = StudentFactory(full_name="Ada Abara", email="ada.abara@example.test")

    content = staff_client.get(reverse("admin:directory_student_changelist"), {"q": "bara"}).content.decode()

    assert reverse("admin:directory_student_change", args=[student.pk]) not in content
    assert "the start of a name or email" in content
    assert "Not the middle of a word" in content
