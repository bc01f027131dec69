"""Breaker state lives in Redis under the configured prefix, whatever the client decodes."""

from __future__ import annotations

import uuid

import redis

from lib.breaker import SharedBreakerStorage
from lib.redis import get_client


def _target() -> str:
    return f"breaker_{uuid.uuid4().hex[:12]}"


def test_breaker_state_is_kept_under_the_prefix_and_target(settings):
    target = _target()
    storage = SharedBreakerStorage.for_target(target)

    storage.state = "open"

    key = f"{settings.HTTP_BREAKER_KEY_PREFIX}:{target}:pybreaker:state"
    assert get_client("write").get(key) == b"open"


def test_a_second_storage_for_the_same_target_sees_the_same_state():
    target = _target()
    SharedBreakerStorage.for_target(target).state = "open"

    assert SharedBreakerStorage.for_target(target).state == "open"


def test_a_client_that_decodes_responses_still_works(settings):
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, socket_timeout=1)
    storage = SharedBreakerStorage(_target(), client)

    storage.state = "half-open"

    assert (storage.state, storage.location) == ("half-open", "redis")
