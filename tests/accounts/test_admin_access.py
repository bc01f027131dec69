"""Every model the admin registers: pages render for staff, and nobody else gets in."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.console.services import audit_record
from apps.outbox.models import OutboxMessage
from apps.telemetry.models import Alert
from apps.workers.models import DeadLetterAction
from tests.apiclients.factories import ApiClientFactory
from tests.factories import (
    AllocationFactory,
    CourseFactory,
    PaymentFactory,
    PurchaseFactory,
    SessionFactory,
    StaffUserFactory,
    StudentFactory,
    TrainerFactory,
    UserFactory,
)
from tests.workers.factories import DeadLetterFactory

pytestmark = pytest.mark.django_db

FACTORIES = {
    "apiclients.apiclient": ApiClientFactory,
    "directory.student": StudentFactory,
    "directory.course": CourseFactory,
    "directory.trainer": TrainerFactory,
    "payments.payment": PaymentFactory,
    "purchases.studentcoursepurchase": PurchaseFactory,
    "allocations.trainerallocation": AllocationFactory,
    "tutoring.tutoringsession": SessionFactory,
    "deadletters.deadletter": DeadLetterFactory,
    "deadletters.deadletteraction": lambda: DeadLetterAction.objects.create(
        dead_letter=DeadLetterFactory(), kind=DeadLetterAction.Kind.RECORDED
    ),
    "telemetry.alert": lambda: Alert.objects.create(
        rule="beat_missing", since=timezone.now(), summary="beat is not reporting"
    ),
    "outbox.outboxmessage": lambda: OutboxMessage.objects.create(
        task_name="purchases.create_from_payment", args=[1], available_at=timezone.now()
    ),
    "auth.user": UserFactory,
    "auth.group": lambda: Group.objects.create(name="on-call"),  # "operators" is made by a migration
    "console.operatoraction": lambda: audit_record(actor=None, action="drill.run", outcome="succeeded"),
}
REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def _url(label: str, page: str, *args: object) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{page}", args=args)


def test_every_registered_model_is_covered_here():
    assert sorted(FACTORIES) == REGISTERED


@pytest.mark.parametrize("label", REGISTERED)
def test_the_changelist_renders_for_staff(staff_client, label):
    FACTORIES[label]()

    assert staff_client.get(_url(label, "changelist")).status_code == 200


@pytest.mark.parametrize("label", REGISTERED)
def test_the_change_page_renders_for_staff(staff_client, label):
    obj = FACTORIES[label]()

    assert staff_client.get(_url(label, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("label", REGISTERED)
def test_the_add_page_renders_where_the_admin_allows_adding(staff_client, label):
    request = RequestFactory().get("/")
    request.user = StaffUserFactory()
    model_admin = next(ma for model, ma in admin.site._registry.items() if model._meta.label_lower == label)
    expected = 200 if model_admin.has_add_permission(request) else 403  # records operators may not forge

    assert staff_client.get(_url(label, "add")).status_code == expected


@pytest.mark.parametrize("label", REGISTERED)
def test_a_user_who_is_not_staff_is_sent_to_the_login_page(member_client, label):
    url = _url(label, "changelist")

    response = member_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert get_user_model().objects.count() == 0
