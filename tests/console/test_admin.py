from __future__ import annotations

from apps.console.services import audit_record


def test_the_audit_trail_is_listed_in_the_admin(staff_client):
    audit_record(actor=None, action="drill.run", target="pool-exhaustion", outcome="succeeded")

    page = staff_client.get("/admin/console/operatoraction/")

    assert page.status_code == 200
    assert b"pool-exhaustion" in page.content


def test_the_audit_trail_cannot_be_added_to_changed_or_deleted_in_the_admin(staff_client):
    row = audit_record(actor=None, action="drill.run", outcome="succeeded")

    assert staff_client.get("/admin/console/operatoraction/add/").status_code == 403
    assert staff_client.post(f"/admin/console/operatoraction/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    change = staff_client.post(f"/admin/console/operatoraction/{row.pk}/change/", {"action": "forged"})
    row.refresh_from_db()
    assert row.action == "drill.run"
    assert change.status_code in (200, 403)
