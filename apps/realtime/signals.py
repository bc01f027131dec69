"""Changes that may take a user's access away reach their open sockets at once (services.realtime_access_changed).

The changes themselves are apps.accounts.signals.access_changed, plus a logout
here; the sockets of the users concerned, on every instance, check their
session and permissions again once the change commits.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out

from apps.accounts.signals import access_changed
from apps.realtime.services import realtime_access_changed


def user_access_changed(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    """Deactivated, no longer staff, a new password, fewer or more permissions (apps.accounts.signals)."""
    realtime_access_changed(user_ids=user_ids)


def session_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Logging out ends this session's sockets (before the session row is gone); the user's others check again."""
    if user is not None:
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        realtime_access_changed(user_ids=[user.pk], ended_session=session_key)


def connect() -> None:
    access_changed.connect(user_access_changed, dispatch_uid="realtime_access_changed")
    user_logged_out.connect(session_logged_out, dispatch_uid="realtime_access_logged_out")
