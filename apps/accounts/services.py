from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction


@transaction.atomic
def staff_user_ensure(*, username: str, password: str) -> tuple[AbstractUser, bool]:
    """Create the superuser `username`, or bring it back to staff with this password; returns (user, created).

    The password is hashed again only when it is missing or differs: a new hash
    changes the session auth hash, which would log out every operator on every
    `make run`. One password check (a hash computation) for an existing user.
    """
    user_model = get_user_model()
    user, created = user_model.objects.select_for_update().get_or_create(username=username)
    changed = created or not (user.is_staff and user.is_superuser and user.is_active)
    user.is_staff = user.is_superuser = user.is_active = True
    if created or not user.has_usable_password() or not user.check_password(password):
        user.set_password(password)
        changed = True
    if changed:
        user.save()
    return user, created
