"""System checks that stop start-up when security configuration is weakened.

Ids are stable (ops_console.E0xx) so operators can search for them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    ScryptPasswordHasher,
    get_hashers,
)
from django.core.checks import Error, register

MINIMUM_BCRYPT_ROUNDS = 12
# Each strong hasher's parameters may only go up from Django's defaults.
MINIMUMS: list[tuple[type, tuple[str, ...]]] = [
    (Argon2PasswordHasher, ("time_cost", "memory_cost", "parallelism")),
    (PBKDF2PasswordHasher, ("iterations",)),
    (ScryptPasswordHasher, ("work_factor",)),
]
WEAK_HASHERS = ("MD5PasswordHasher", "UnsaltedMD5PasswordHasher", "UnsaltedSHA1PasswordHasher", "SHA1PasswordHasher")


@register("security", deploy=False)
def password_hashers_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    hashers = get_hashers()
    errors: list[Error] = []
    if not isinstance(hashers[0], Argon2PasswordHasher):
        errors.append(
            Error(
                "PASSWORD_HASHERS must start with an Argon2 hasher.",
                hint="Put django.contrib.auth.hashers.Argon2PasswordHasher first.",
                id="ops_console.E001",
            )
        )
    for hasher in hashers:
        errors.extend(_weakened(hasher))
    return errors


def _weakened(hasher: Any) -> list[Error]:
    name = type(hasher).__name__
    if name in WEAK_HASHERS and not settings.DEBUG:
        return [Error(f"{name} is not a password hasher for production.", id="ops_console.E002")]
    if isinstance(hasher, BCryptSHA256PasswordHasher) and hasher.rounds < MINIMUM_BCRYPT_ROUNDS:
        return [Error(f"{name} uses {hasher.rounds} rounds; at least {MINIMUM_BCRYPT_ROUNDS}.", id="ops_console.E003")]
    for base, parameters in MINIMUMS:
        if isinstance(hasher, base):
            return [
                Error(
                    f"{name}.{parameter} is {getattr(hasher, parameter)}, below Django's {getattr(base, parameter)}.",
                    id="ops_console.E004",
                )
                for parameter in parameters
                if getattr(hasher, parameter) < getattr(base, parameter)
            ]
    return []
