"""Running a fault drill: validate, mark it active (a Redis key that expires with it), start its effect, audit.

The active marks only tell the page what runs; every effect ends by itself
(apps/drills/effects.py), whether or not the page, or the web process, is still there.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.conf import settings

from apps.console.models import OperatorAction
from apps.console.services import audit_record
from apps.drills import effects, tasks
from apps.drills.catalogue import DRILLS, PROVIDER_MODES
from lib.redis import REDIS_ERRORS, get_client, redis_cut_off, redis_cut_off_remaining, redis_read, redis_write

WORKER_DRILLS = ("db_pool", "slow_sql")


class DrillRefused(Exception):
    """Bad input or a drill that cannot run now; the message says which."""


def _key(name: str) -> str:
    return f"{settings.TELEMETRY_KEY_PREFIX}:drills:{name}"


def drill_seconds(*, name: str, seconds: float | None) -> float:
    """The drill's duration: the given one within bounds, else DRILL_SECONDS. Raises DrillRefused."""
    value = settings.DRILL_SECONDS if seconds is None else seconds
    if not 0 < value <= settings.DRILL_MAX_SECONDS:
        raise DrillRefused(f"seconds must be more than 0 and at most DRILL_MAX_SECONDS ({settings.DRILL_MAX_SECONDS})")
    if name in WORKER_DRILLS and value >= settings.CELERY_TASK_SOFT_TIME_LIMIT:
        raise DrillRefused(
            f"a worker drill must end within the task time limit: seconds below {settings.CELERY_TASK_SOFT_TIME_LIMIT}"
        )
    return value


def drill_run(*, actor: Any, name: str, seconds: float | None = None) -> dict[str, Any]:
    """Start drill `name` for `seconds` (timed drills). Raises DrillRefused (bad input, already running) or
    effects.DrillFailed (audited as failed). One Redis write, one INSERT, and the drill's own call."""
    drill = DRILLS.get(name)
    if drill is None:
        raise DrillRefused(f"no drill {name!r}; drills: {', '.join(DRILLS)}")
    duration = drill_seconds(name=name, seconds=seconds) if drill.timed else settings.DRILL_SECONDS
    # 1. Mark it active, once: a second run of the same drill while it runs is refused.
    mark = {"name": name, "started_at": time.time(), "ends_at": time.time() + duration, "actor": actor.get_username()}
    try:
        claimed = get_client("write").set(_key(name), json.dumps(mark), nx=True, ex=max(1, round(duration)))
    except REDIS_ERRORS:
        claimed = True  # Redis down: the drill still runs; the page cannot list it
    if not claimed:
        raise DrillRefused(f"the {drill.title} drill is already running")
    # 2. Start the effect; each ends by itself.
    target = f"{duration:g} s" if drill.timed else ""
    try:
        detail = _start(name, duration)
    except effects.DrillFailed as exc:
        redis_write(lambda client: client.delete(_key(name)), what="drill mark")
        audit_record(actor=actor, action=f"drills.{name}", target=target, outcome=OperatorAction.Outcome.FAILED,
                     detail={"error": str(exc)})  # fmt: skip
        raise
    audit_record(actor=actor, action=f"drills.{name}", target=target, outcome=OperatorAction.Outcome.SUCCEEDED,
                 detail=detail)  # fmt: skip
    return {"drill": name, "title": drill.title, "seconds": duration if drill.timed else None,
            "ends_at": mark["ends_at"] if drill.timed else None, "expect": drill.expect, "clears": drill.clears,
            **detail}  # fmt: skip


def _start(name: str, seconds: float) -> dict[str, Any]:
    if name in PROVIDER_MODES:
        effects.provider_mode_set(mode=PROVIDER_MODES[name], seconds=seconds)
        return {"provider_mode": PROVIDER_MODES[name]}
    if name == "db_pool":
        return {"task_id": tasks.hold_pool.delay(seconds).id}
    if name == "slow_sql":
        return {"task_id": tasks.slow_statement.delay(seconds).id}
    if name == "redis_down":
        redis_cut_off(seconds=seconds)
        return {}
    if name == "poison":
        return {"task_id": tasks.poison.delay(f"poison-{uuid.uuid4().hex[:8]}").id}
    if not effects.burst_ready():
        raise effects.DrillFailed("a burst needs an active course with a trainer and active students (seed_demo)")
    return {"task_id": tasks.payment_burst.delay(settings.DRILL_BURST_PAYMENTS).id,
            "payments": settings.DRILL_BURST_PAYMENTS}  # fmt: skip


def drill_list() -> list[dict[str, Any]]:
    """Every drill with whether it runs now and until when (one MGET; unknown when Redis does not answer)."""
    names = list(DRILLS)
    raw = redis_read(lambda client: client.mget([_key(n) for n in names]), default=None, what="active drills")
    now = time.time()
    rows = []
    for index, name in enumerate(names):
        drill = DRILLS[name]
        value = raw[index] if raw else None
        mark = json.loads(value) if value else None
        if name == "redis_down" and redis_cut_off_remaining() > 0:
            mark = mark or {"ends_at": now + redis_cut_off_remaining(), "actor": ""}
        rows.append({
            "name": name, "title": drill.title, "timed": drill.timed, "does": drill.does, "expect": drill.expect,
            "clears": drill.clears, "active": None if raw is None and mark is None else mark is not None,
            "ends_in_s": round(max(0.0, mark["ends_at"] - now), 1) if mark else None,
            "started_by": mark.get("actor") if mark else None,
        })  # fmt: skip
    return rows
