"""A change that may take the console away from users (apps.accounts.signals) drops their remembered grant
(access.console_poll) at once."""

from __future__ import annotations

from typing import Any

from apps.accounts.signals import access_changed
from apps.console.access import console_access_forget


def user_access_changed(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    console_access_forget(user_ids)


def connect() -> None:
    access_changed.connect(user_access_changed, dispatch_uid="console_access_changed")
