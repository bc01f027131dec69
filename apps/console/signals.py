"""Changes that may take the console away from a user drop its remembered grant (access.console_poll) at once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from apps.console.access import console_access_forget

User = get_user_model()


def user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Saved (deactivated, no longer staff, a new password) or deleted."""
    console_access_forget([instance.pk])


def user_links_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """A user's groups or direct permissions changed, from either side (pk_set: users when reverse)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        console_access_forget([instance.pk])
    elif action == "pre_clear":  # a group's or a permission's users are all removed
        field = "groups" if isinstance(instance, Group) else "user_permissions"
        console_access_forget(User.objects.filter(**{field: instance}).values_list("pk", flat=True))
    else:
        console_access_forget(pk_set or ())


def group_permissions_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """A group's permissions changed, from either side (pk_set: groups when reverse): every member's grant goes."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        groups: Any = [instance]
    elif action == "pre_clear":
        groups = instance.group_set.all()
    else:
        groups = pk_set or ()
    console_access_forget(User.objects.filter(groups__in=groups).values_list("pk", flat=True).distinct())


def group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    """Deleting a group removes its members' permissions without an m2m signal."""
    console_access_forget(instance.user_set.values_list("pk", flat=True))


def connect() -> None:
    post_save.connect(user_changed, sender=User, dispatch_uid="console_access_user_saved")
    post_delete.connect(user_changed, sender=User, dispatch_uid="console_access_user_deleted")
    m2m_changed.connect(user_links_changed, sender=User.groups.through, dispatch_uid="console_access_groups")
    m2m_changed.connect(
        user_links_changed, sender=User.user_permissions.through, dispatch_uid="console_access_user_permissions"
    )
    m2m_changed.connect(
        group_permissions_changed, sender=Group.permissions.through, dispatch_uid="console_access_group_permissions"
    )
    pre_delete.connect(group_deleted, sender=Group, dispatch_uid="console_access_group_deleted")
