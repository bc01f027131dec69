"""Each large list's order, filter and search is served by an index: plans of the statements the page runs.

Over the seeded, ANALYZEd platform (tests/support/seeded.py); each test GETs the
changelist as an operator would and EXPLAINs every SELECT the request ran.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.plans import indexes_used_by

pytestmark = pytest.mark.django_db

PAGES = {
    "payments, newest first": ("payments_payment", {}, "payments_created_idx"),
    # (created and pending, in flight, are served by the tiny partial payments_student_course_in_flight_uniq)
    "payments by a settled status": (
        "payments_payment",
        {"status__exact": "refunded"},
        "payments_status_created_id_idx",
    ),
    "payments by a currency none has": (
        "payments_payment",
        {"currency__exact": "USD"},
        "payments_currency_created_idx",
    ),
    "purchases, newest first": ("purchases_studentcoursepurchase", {}, "student_course_purchases_created_idx"),
    "allocations, newest first": ("allocations_trainerallocation", {}, "trainer_allocations_created_idx"),
    "allocations by a rare status": (
        "allocations_trainerallocation",
        {"status__exact": "rejected"},
        "trainer_allocations_status_created_idx",
    ),
    "sessions in slot order": ("tutoring_tutoringsession", {}, "tutoring_sessions_slot_idx"),
    "sessions still to come": (
        "tutoring_tutoringsession",
        {"status__exact": "scheduled"},
        "tutoring_sessions_status_slot_idx",
    ),
    "students by name": ("directory_student", {}, "students_full_name_id_idx"),
    "students by the start of a name": ("directory_student", {"q": "Zoe Cohe"}, "students_name_prefix_idx"),
    "students by the start of an email": ("directory_student", {"q": "student123"}, "students_email_prefix_idx"),
}


@pytest.mark.parametrize("page", PAGES)
def test_the_admin_list_is_served_by_its_index(seeded_platform, staff_client, page):
    model, params, index = PAGES[page]
    url = reverse(f"admin:{model}_changelist")

    def visit():
        response = staff_client.get(url, params)
        assert response.status_code == 200

    assert index in indexes_used_by(visit)
