"""Realtime counts for /ops/instance, the console and /ws/ops/; who an open socket's session still signs in."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from importlib import import_module
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from apps.realtime.router import ROUTER
from apps.realtime.state import STATE
from apps.realtime.tracking import decode_instance, key, metrics_by_prefix
from lib import metrics
from lib.redis import redis_read


def realtime_connection_stats(*, cluster: Literal["cached", "fresh"] = "cached") -> dict[str, Any]:
    """This instance's counts from memory, and the cluster's.

    cluster="cached" (for /ops/instance) never talks to Redis: it shows what this
    instance's last heartbeat read. cluster="fresh" reads Redis (two round trips,
    each bounded by REDIS_READ_TIMEOUT) and reports "unavailable" when it fails.
    """
    return {"instance": realtime_instance_stats(), "cluster": _cluster(cluster)}


def realtime_instance_stats() -> dict[str, Any]:
    return {
        "id": STATE.instance_id,
        "connections": len(STATE.connections),
        # Groups this process's channel is in (one Redis subscription each with the pub/sub layer).
        "groups": len(ROUTER.members),
        "draining": STATE.draining,
        "limit": settings.WS_MAX_CONNECTIONS_PER_INSTANCE,
        "refused": metrics_by_prefix("ws_refused"),
        "messages_sent": metrics.counter_value("ws_messages_sent"),
        "messages_dropped": metrics_by_prefix("ws_messages_dropped"),
        "slow_clients_dropped": metrics.counter_value("ws_slow_clients_dropped"),
        # Client frames dropped because they came after the server started closing the socket.
        "frames_after_close": metrics.counter_value("ws_frames_after_close"),
        "top_users": [{"user_id": u, "connections": n} for u, n in STATE.top_users()],
    }


def _cluster(mode: str) -> dict[str, Any]:
    if mode == "cached":
        cached = STATE.cluster_cache
        if cached is None:
            return {"source": "none"}
        return {**cached["summary"], "source": "cache", "age_s": round(time.monotonic() - cached["at"], 1)}
    instances = redis_read(_read_instances, default=None, what="realtime_cluster")
    if instances is None:
        return {"source": "unavailable"}
    return {**cluster_summary(instances), "source": "redis"}


def _read_instances(client: Any) -> list[dict[str, Any]]:
    ids = client.zrangebyscore(key("instances"), time.time() - settings.WS_TRACKING_TTL, "+inf")
    pipe = client.pipeline(transaction=False)
    for instance_id in ids:
        pipe.hgetall(key("instance", instance_id.decode()))
    return [decode_instance(i.decode(), h) for i, h in zip(ids, pipe.execute(), strict=True) if h]


def cluster_summary(instances: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over live instances; top users merged from each instance's top ten (approximate)."""
    users: Counter[int] = Counter()
    for instance in instances:
        for user_id, count in instance["top_users"]:
            users[int(user_id)] += int(count)
    return {
        "total_connections": sum(i["connections"] for i in instances),
        "instances": [{k: i[k] for k in ("id", "connections", "draining", "heartbeat_at")} for i in instances],
        "top_users": [{"user_id": u, "connections": n} for u, n in users.most_common(10)],
        "refused": sum(i["refused"] for i in instances),
        "messages_sent": sum(i["messages_sent"] for i in instances),
        "messages_dropped": sum(i["messages_dropped"] for i in instances),
    }


def realtime_signed_in_users(session_keys: Collection[str]) -> dict[str, Any]:
    """The user each session still signs in, by session key.

    A session that was logged out, deleted or expired, or whose user is gone,
    inactive or has changed password since, is missing: what Django's get_user()
    would answer for the next request, read from the session table (the truth under
    the cached_db engine, which a raw SQL delete bypasses in the cache). Two queries,
    whatever the number of keys: call it through database_sync_to_async.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    rows = store_class.get_model_class().objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    store, user_model = store_class(), get_user_model()
    claims: dict[str, tuple[Any, str]] = {}
    for session_key, data in rows.values_list("session_key", "session_data"):
        session = store.decode(data)
        if SESSION_KEY in session:
            claims[session_key] = (
                user_model._meta.pk.to_python(session[SESSION_KEY]),
                session.get(HASH_SESSION_KEY, ""),
            )
    users = user_model.objects.filter(is_active=True).in_bulk({user_id for user_id, _ in claims.values()})
    return {
        session_key: users[user_id]
        for session_key, (user_id, auth_hash) in claims.items()
        if user_id in users and _session_hash_matches(users[user_id], auth_hash)
    }


def _session_hash_matches(user: Any, auth_hash: str) -> bool:
    """Django's check: the hash of the user's password, under SECRET_KEY or one of its fallbacks."""
    secrets = [None, *settings.SECRET_KEY_FALLBACKS]
    return any(constant_time_compare(auth_hash, user._get_session_auth_hash(secret=secret)) for secret in secrets)
