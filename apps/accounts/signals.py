"""Changes that may take access away from users, as one signal: `access_changed(user_ids=[...])`.

Sent when a user is saved (deactivated, no longer staff or superuser, a new
password; not a new user, not a login's `last_login`), deleted, or its groups
or direct permissions change; when a group's permissions change or the group
is deleted (its members). Each app that remembers or serves access listens to
this one signal: the console's remembered grant (apps/console/signals.py) and
open WebSockets (apps/realtime/signals.py). The user ids are a list, read at
the time of the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import Signal

User = get_user_model()

access_changed = Signal()  # user_ids: list[int]

# A login saves last_login only: nothing that decides access.
LOGIN_FIELDS = frozenset({"last_login"})


def _changed(user_ids: Iterable[Any]) -> None:
    ids = [int(pk) for pk in user_ids]
    if ids:
        access_changed.send(sender=User, user_ids=ids)


def user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or (update_fields is not None and frozenset(update_fields) <= LOGIN_FIELDS):
        return
    _changed([instance.pk])


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _changed([instance.pk])


def user_links_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """A user's groups or direct permissions changed, from either side (pk_set: users when reverse)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        _changed([instance.pk])
    elif action == "pre_clear":  # a group's or a permission's users are all removed
        field = "groups" if isinstance(instance, Group) else "user_permissions"
        _changed(User.objects.filter(**{field: instance}).values_list("pk", flat=True))
    else:
        _changed(pk_set or ())


def group_permissions_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """A group's permissions changed, from either side (pk_set: groups when reverse): every member."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        groups: Any = [instance]
    elif action == "pre_clear":
        groups = list(instance.group_set.all())
    else:
        groups = pk_set or ()
    _changed(User.objects.filter(groups__in=groups).values_list("pk", flat=True).distinct())


def group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    """Deleting a group removes its members' permissions without an m2m signal."""
    _changed(instance.user_set.values_list("pk", flat=True))


def connect() -> None:
    post_save.connect(user_saved, sender=User, dispatch_uid="accounts_access_user_saved")
    post_delete.connect(user_deleted, sender=User, dispatch_uid="accounts_access_user_deleted")
    m2m_changed.connect(user_links_changed, sender=User.groups.through, dispatch_uid="accounts_access_groups")
    m2m_changed.connect(
        user_links_changed, sender=User.user_permissions.through, dispatch_uid="accounts_access_user_permissions"
    )
    m2m_changed.connect(
        group_permissions_changed, sender=Group.permissions.through, dispatch_uid="accounts_access_group_permissions"
    )
    pre_delete.connect(group_deleted, sender=Group, dispatch_uid="accounts_access_group_deleted")
