"""One signal names the users whose access a change may have taken away: the console's grant cache and open
WebSockets both listen to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, Permission

from apps.accounts.signals import access_changed
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def changes() -> Iterator[list[list[int]]]:
    seen: list[list[int]] = []

    def receiver(sender, user_ids, **kwargs) -> None:  # type: ignore[no-untyped-def]
        seen.append(sorted(user_ids))

    access_changed.connect(receiver, dispatch_uid="test_access_changed")
    yield seen
    access_changed.disconnect(dispatch_uid="test_access_changed")


def test_deactivating_a_user_names_that_user(changes):
    user = StaffUserFactory()
    user.is_active = False
    user.save()

    assert changes == [[user.pk]]


def test_a_new_user_and_a_login_change_no_access(changes):
    user = StaffUserFactory()
    user.save(update_fields=["last_login"])

    assert changes == []


def test_a_groups_lost_permission_names_every_member(changes):
    group = Group.objects.create(name="night shift")
    permission = Permission.objects.get(codename="view_payment")
    group.permissions.add(permission)
    members = [StaffUserFactory(), StaffUserFactory()]
    for member in members:
        member.groups.add(group)
    changes.clear()

    group.permissions.remove(permission)

    assert changes == [sorted(member.pk for member in members)]


def test_deleting_a_group_names_its_members(changes):
    group = Group.objects.create(name="night shift")
    member = StaffUserFactory()
    member.groups.add(group)
    changes.clear()

    group.delete()

    assert changes[0] == [member.pk]
