"""The fault drills: what each does, for how long, and what the dashboards should show meanwhile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drill:
    name: str
    title: str
    does: str
    expect: str  # what the console should show while it runs
    clears: str  # and how it clears
    timed: bool = True  # False: a one-off (poison task, burst) whose effect ends by itself


PROVIDER_MODES = {"provider_slow": "slow", "provider_hanging": "hang", "provider_failing": "error",
                  "provider_refusing": "refuse"}  # fmt: skip

DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        Drill(
            "provider_slow", "Provider slow",
            "The sandbox provider holds each answer for DRILL_PROVIDER_DELAY_MS.",
            "Once payments flow (make some, or run a burst): Payment provider tile p95 up to the delay; payments "
            "still succeed, slowly.",
            "The provider reverts to normal by its own timer."),
        Drill(
            "provider_hanging", "Provider hanging",
            "The sandbox provider never answers: every charge times out (PAYMENT_TIMEOUT).",
            "Once payments flow: provider errors, the breaker opens (health: provider red); payment requests answer "
            "504, then 502 while the breaker is open; those payments stay pending until reconciliation.",
            "The provider reverts and releases hung calls; the breaker closes after its reset timeout once calls succeed."),
        Drill(
            "provider_failing", "Provider failing",
            "The sandbox provider answers 500 without charging.",
            "Once payments flow: provider errors, the breaker opens (health: provider red); payment requests answer "
            "502 (provider_unavailable) and stay pending until reconciliation.",
            "The provider reverts; the breaker closes after its reset timeout once calls succeed."),
        Drill(
            "provider_refusing", "Provider refusing",
            "The sandbox provider resets every connection.",
            "Once payments flow: provider errors, the breaker opens (health: provider red); payment requests answer "
            "502 (provider_unavailable).",
            "The provider reverts; the breaker closes after its reset timeout once calls succeed."),
        Drill(
            "db_pool", "DB pool exhausted",
            "A worker process takes every connection of its pool and holds them; one more request waits.",
            "DB pool tile amber (in use = max, requests waiting, pool timeouts) for that worker; its tasks wait.",
            "The task lets go of the connections when the time is up (or when its worker stops)."),
        Drill(
            "slow_sql", "Slow SQL statement",
            "A worker runs a statement that sleeps past its statement timeout (the drill's duration).",
            "Database page: a long-running query (pg_sleep) from ops-console:worker; then it is cancelled by "
            "the statement timeout and the task counts as failed.",
            "PostgreSQL cancels the statement at the timeout."),
        Drill(
            "redis_down", "Redis unreachable (this web process)",
            "This web process's Redis clients point at a closed port; other processes are unaffected.",
            "Pages served by this process: health Redis red, banner red; this process drops out of Processes; "
            "the rate limiter fails open.",
            "The process's clients point back at Redis when the time is up (a restart ends it too)."),
        Drill(
            "poison", "Poison task",
            "Enqueues a task that fails on every attempt.",
            "Tasks tile: failures and retries; after TASK_MAX_ATTEMPTS a new dead letter (drills.poison).",
            "Discard or resolve the dead letter (it is the drill's only trace).", timed=False),
        Drill(
            "burst", "Burst of payments",
            "Creates DRILL_BURST_PAYMENTS payments through the provider, each starting its pipeline.",
            "Provider calls rise by the burst, tasks succeed (tasks/s up, queue depth up briefly), the payments can be "
            "found under Payments, then the queues drain.",
            "Ends when the pipelines have run.", timed=False),
    )
}  # fmt: skip
