"""Connection tracking in Redis, shared by every instance.

Keys (prefix WS_KEY_PREFIX, default "ws"):
- `<p>:connection:<id>`: the connection's user and instance, TTL WS_TRACKING_TTL.
- `<p>:user:<user id>`: sorted set of that user's connection ids, each scored with
  the time (ms) it expires unless a heartbeat renews it; expired ids are pruned on
  the next connect, so a crashed instance's connections stop counting against the
  per-user cap within the TTL.
- `<p>:instance:<instance id>`: the instance's counts, TTL WS_TRACKING_TTL.
- `<p>:instances`: sorted set of instance ids by last heartbeat.
The instance heartbeat refreshes every TTL, so a crashed instance's keys
expire within WS_TRACKING_TTL instead of being counted forever. Scores and
`<p>:instances` use the instances' clocks, which must agree to well within the TTL.

The per-user cap's script touches only the key it is given, so it also runs on
Redis Cluster.

Every call is bounded by REDIS_WRITE_TIMEOUT (socket timeout and asyncio.timeout)
and failures are logged and counted, never raised to the consumer.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from django.conf import settings
from redis.typing import EncodableT, FieldT

from apps.realtime.state import InstanceState
from lib import metrics
from lib.redis import REDIS_ERRORS, get_async_client, record_failure

logger = structlog.get_logger(__name__)

# Prune the user's expired connection ids, then add this one unless the user is at the cap.
# KEYS[1] the user's sorted set; ARGV: connection id, cap, now (ms), ttl (ms).
_TRACK = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


def key(*parts: object) -> str:
    return ":".join([settings.WS_KEY_PREFIX, *map(str, parts)])


def _ttl_ms() -> int:
    return int(settings.WS_TRACKING_TTL * 1000)


async def _bounded(what: str, call: Any) -> Any:
    """Await `call` within REDIS_WRITE_TIMEOUT; None (logged and counted) when Redis fails."""
    try:
        async with asyncio.timeout(settings.REDIS_WRITE_TIMEOUT):
            return await call
    except (*REDIS_ERRORS, TimeoutError) as exc:
        record_failure("ws_tracking_failed", purpose="write", what=what, exc=exc)
        metrics.increment("ws_tracking_failures", what=what)
        return None


async def connection_track(*, connection_id: str, user_id: int, instance_id: str) -> str:
    """Record a new connection cluster-wide: "ok", "user_limit" or "unavailable" (Redis down).

    Two round trips, together bounded: the cap check, then the connection's own key.
    """
    now = time.time()
    value = json.dumps({"user_id": user_id, "instance": instance_id, "opened_at": now})
    client = get_async_client("write")

    async def track() -> str:
        args = (connection_id, settings.WS_MAX_CONNECTIONS_PER_USER, int(now * 1000), _ttl_ms())
        if int(await client.eval(_TRACK, 1, key("user", user_id), *args)) != 1:
            return "user_limit"
        await client.set(key("connection", connection_id), value, px=_ttl_ms())
        return "ok"

    return await _bounded("connection_track", track()) or "unavailable"


async def connection_untrack(*, connection_id: str, user_id: int) -> None:
    """Forget a closed connection. Bounded; a failure leaves keys that expire within the TTL."""
    pipe = get_async_client("write").pipeline(transaction=False)
    pipe.delete(key("connection", connection_id))
    pipe.zrem(key("user", user_id), connection_id)
    await _bounded("connection_untrack", pipe.execute())


async def instance_heartbeat(state: InstanceState) -> None:
    """Refresh this instance's keys (one pipeline) and publish its counts."""
    ttl, now = _ttl_ms(), time.time()
    expires_at = int(now * 1000) + ttl
    pipe = get_async_client("write").pipeline(transaction=False)
    for connection_id, consumer in state.connections.items():
        pipe.pexpire(key("connection", connection_id), ttl)
        pipe.zadd(key("user", consumer.user_id), {connection_id: expires_at}, xx=True)
    for user_id in state.per_user:
        pipe.pexpire(key("user", user_id), ttl)
    instance_key = key("instance", state.instance_id)
    pipe.hset(instance_key, mapping=instance_counts(state))
    pipe.pexpire(instance_key, ttl)
    pipe.zadd(key("instances"), {state.instance_id: now})
    pipe.zremrangebyscore(key("instances"), "-inf", now - settings.WS_TRACKING_TTL)
    await _bounded("instance_heartbeat", pipe.execute())


def instance_counts(state: InstanceState) -> dict[FieldT, EncodableT]:
    return {
        "connections": str(len(state.connections)),
        "draining": "1" if state.draining else "0",
        "top_users": json.dumps(state.top_users()),
        "refused": str(sum(metrics_by_prefix("ws_refused").values())),
        "messages_sent": str(metrics.counter_value("ws_messages_sent")),
        "messages_dropped": str(sum(metrics_by_prefix("ws_messages_dropped").values())),
        "heartbeat_at": str(time.time()),
    }


def metrics_by_prefix(name: str) -> dict[str, int]:
    """This process's counters named exactly `name`, by rendered labels."""
    return {k: v for k, v in metrics.counters(name).items() if k == name or k.startswith(name + "{")}


async def instance_remove(state: InstanceState) -> None:
    """Delete every key this instance holds (graceful drain)."""
    pipe = get_async_client("write").pipeline(transaction=False)
    for connection_id, consumer in state.connections.items():
        pipe.delete(key("connection", connection_id))
        pipe.zrem(key("user", consumer.user_id), connection_id)
    pipe.delete(key("instance", state.instance_id))
    pipe.zrem(key("instances"), state.instance_id)
    await _bounded("instance_remove", pipe.execute())


async def cluster_read() -> list[dict[str, Any]] | None:
    """Every live instance's counts (one ZRANGE, one pipeline of HGETALL); None when Redis fails."""
    client = get_async_client("read")
    ids = await _bounded(
        "cluster_read", client.zrangebyscore(key("instances"), time.time() - settings.WS_TRACKING_TTL, "+inf")
    )
    if ids is None:
        return None
    pipe = client.pipeline(transaction=False)
    for instance_id in ids:
        pipe.hgetall(key("instance", instance_id.decode()))
    hashes = await _bounded("cluster_read", pipe.execute())
    if hashes is None:
        return None
    return [decode_instance(i.decode(), h) for i, h in zip(ids, hashes, strict=True) if h]


def decode_instance(instance_id: str, raw: dict[bytes, bytes]) -> dict[str, Any]:
    values = {k.decode(): v.decode() for k, v in raw.items()}
    return {
        "id": instance_id,
        "connections": int(values.get("connections", 0)),
        "draining": values.get("draining") == "1",
        "top_users": json.loads(values.get("top_users", "[]")),
        "refused": int(values.get("refused", 0)),
        "messages_sent": int(values.get("messages_sent", 0)),
        "messages_dropped": int(values.get("messages_dropped", 0)),
        "heartbeat_at": float(values.get("heartbeat_at", 0)),
    }
