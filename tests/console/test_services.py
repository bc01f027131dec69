from __future__ import annotations

import pytest

from apps.console.models import OperatorAction
from apps.console.services import audit_record
from lib.context import set_correlation_id
from tests.factories import StaffUserFactory


@pytest.mark.django_db
def test_audit_record_keeps_who_what_target_outcome_and_correlation_id():
    user = StaffUserFactory(username="ops-anna")

    row = audit_record(actor=user, action="drill.run", target="redis-outage", outcome="succeeded", correlation_id="c-1")

    row.refresh_from_db()
    assert (row.actor, row.actor_username, row.action, row.target, row.outcome, row.correlation_id) == (
        user,
        "ops-anna",
        "drill.run",
        "redis-outage",
        "succeeded",
        "c-1",
    )
    assert row.created_at is not None


@pytest.mark.django_db
def test_audit_record_takes_the_requests_correlation_id_by_default():
    set_correlation_id("req-123")
    try:
        row = audit_record(actor=None, action="deadletter.replay", outcome="failed")
    finally:
        set_correlation_id(None)

    assert row.correlation_id == "req-123"
    assert row.actor_username == ""


@pytest.mark.django_db
def test_audit_record_refuses_an_unknown_outcome():
    with pytest.raises(ValueError, match="outcome must be one of"):
        audit_record(actor=None, action="x", outcome="maybe")

    assert not OperatorAction.objects.exists()


@pytest.mark.django_db
def test_the_trail_outlives_the_user_who_acted():
    user = StaffUserFactory(username="ops-ben")
    row = audit_record(actor=user, action="query.cancel", outcome="succeeded")

    user.delete()

    row.refresh_from_db()
    assert (row.actor, row.actor_username) == (None, "ops-ben")
