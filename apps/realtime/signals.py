"""Changes that may take a user's access away reach their open sockets at once (services.realtime_access_changed).

Each receiver names the users concerned; the sockets of those users, on every
instance, check their session and permissions again once the change commits.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from apps.realtime.services import realtime_access_changed

User = get_user_model()

# A login saves last_login only: nothing that decides access.
LOGIN_FIELDS = frozenset({"last_login"})


def user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    """Deactivated, no longer staff or superuser, a new password: any save but a new user's or a login's."""
    if created or (update_fields is not None and frozenset(update_fields) <= LOGIN_FIELDS):
        return
    realtime_access_changed(user_ids=[instance.pk])


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    realtime_access_changed(user_ids=[instance.pk])


def session_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Logging out ends this session's sockets (before the session row is gone); the user's others check again."""
    if user is not None:
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        realtime_access_changed(user_ids=[user.pk], ended_session=session_key)


def user_links_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """A user's groups or direct permissions changed, from either side (pk_set: users when reverse)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        realtime_access_changed(user_ids=[instance.pk])
    elif action == "pre_clear":  # a group's or a permission's users are all removed
        field = "groups" if isinstance(instance, Group) else "user_permissions"
        realtime_access_changed(user_ids=list(User.objects.filter(**{field: instance}).values_list("pk", flat=True)))
    else:
        realtime_access_changed(user_ids=pk_set or ())


def group_permissions_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """A group's permissions changed, from either side (pk_set: groups when reverse): every member checks again."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        groups: Any = [instance]
    elif action == "pre_clear":
        groups = list(instance.group_set.all())
    else:
        groups = pk_set or ()
    members = User.objects.filter(groups__in=groups).values_list("pk", flat=True).distinct()
    realtime_access_changed(user_ids=list(members))


def group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    """Deleting a group removes its members' permissions without an m2m signal."""
    realtime_access_changed(user_ids=list(instance.user_set.values_list("pk", flat=True)))


def connect() -> None:
    post_save.connect(user_saved, sender=User, dispatch_uid="realtime_access_user_saved")
    post_delete.connect(user_deleted, sender=User, dispatch_uid="realtime_access_user_deleted")
    user_logged_out.connect(session_logged_out, dispatch_uid="realtime_access_logged_out")
    m2m_changed.connect(user_links_changed, sender=User.groups.through, dispatch_uid="realtime_access_groups")
    m2m_changed.connect(
        user_links_changed, sender=User.user_permissions.through, dispatch_uid="realtime_access_user_permissions"
    )
    m2m_changed.connect(
        group_permissions_changed, sender=Group.permissions.through, dispatch_uid="realtime_access_group_permissions"
    )
    pre_delete.connect(group_deleted, sender=Group, dispatch_uid="realtime_access_group_deleted")
