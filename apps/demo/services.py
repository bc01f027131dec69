"""Demo data: a coherent platform at a chosen scale, built with set-based SQL.

Each step is one INSERT ... SELECT over generate_series, so a million payments
take minutes, not hours, and PostgreSQL does the work next to the data. Every
row has a natural key (course code, email, idempotency key, payment, purchase,
slot), and every INSERT skips rows that already exist, so re-running is safe
and a larger scale extends a smaller one.

The seed shares its database with real rows (API traffic after `make run`), so
every row it makes carries `is_demo = true` and every step reads only demo rows:
demo payments for demo students on demo courses, allocations of demo purchases
to demo trainers (within capacity, counting the real allocations they carry),
sessions for demo allocations. A real row is never assigned, scheduled or
changed. A boolean column is the least invasive marker that is also durable:
the natural keys it used before (email domain, `demo-pay-` idempotency keys,
payment metadata) are chosen by API clients, while `is_demo` is not editable
and defaults to false in the database, so forms, the API and the pipeline
never set it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import connection

from lib.db import statement_timeout

logger = structlog.get_logger(__name__)

# Bulk steps over millions of rows need more than the request-sized default.
SEED_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
# How long a step waits for a table lock (the bulk path's ALTERs, an insert behind a conflicting row) before failing.
SEED_LOCK_TIMEOUT_MS = 10_000

FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jia",
    "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tariq",
    "Uma", "Vik", "Wen", "Ximena", "Yusuf", "Zoe", "Aron", "Bea", "Cyril", "Dana",
]  # fmt: skip
LAST_NAMES = [
    "Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Huang", "Ivanova", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Quispe", "Rossi", "Silva", "Tanaka",
    "Umarov", "Varga", "Weber", "Xu", "Yilmaz", "Zhou", "Adeyemi", "Bianchi", "Cohen", "Dahl",
]  # fmt: skip
COURSES = [
    ("algebra-1", "Algebra I", "240.00", 4),
    ("algebra-2", "Algebra II", "260.00", 4),
    ("geometry", "Geometry", "240.00", 4),
    ("calculus", "Calculus", "320.00", 6),
    ("statistics", "Statistics", "280.00", 4),
    ("physics", "Physics", "300.00", 6),
    ("chemistry", "Chemistry", "300.00", 6),
    ("biology", "Biology", "260.00", 4),
    ("english-writing", "English Writing", "200.00", 3),
    ("spanish-a2", "Spanish A2", "180.00", 3),
    ("python-intro", "Intro to Python", "350.00", 6),
    ("sat-prep", "SAT Preparation", "450.00", 6),
]


@dataclass(frozen=True)
class DemoScale:
    payments: int
    students: int
    trainers: int

    @classmethod
    def for_payments(cls, payments: int, *, students: int | None = None, trainers: int | None = None) -> DemoScale:
        students = students or max(20, payments // 5)
        trainers = trainers or max(8, students // 10)
        return cls(payments=payments, students=students, trainers=trainers)


def _execute(step: str, sql: str, params: dict[str, Any] | None = None, *, table: str | None = None) -> int:
    """Run one bulk step in its own transaction.

    With `table` (the bulk path, an empty database only: demo_bulk_load_allowed),
    the table's foreign keys are dropped for the insert and added back
    (validated in one pass) before commit: PostgreSQL's advice for bulk loads,
    since row-by-row key checks dominate the cost otherwise. Nobody sees the
    table without its keys: the ALTERs hold an exclusive lock until commit,
    which is why a database with data never takes this path.
    """
    started = time.monotonic()
    with statement_timeout(SEED_STATEMENT_TIMEOUT_MS), connection.cursor() as cursor:
        # Demo rows can be regenerated, so a commit need not wait for the WAL flush.
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Beside live data, wait briefly for a lock rather than queue behind a long transaction (and make others
        # queue behind us); the step fails with a clear error instead.
        cursor.execute(f"SET LOCAL lock_timeout = {int(SEED_LOCK_TIMEOUT_MS)}")
        foreign_keys = _drop_foreign_keys(cursor, table) if table else []
        cursor.execute(sql, params or {})
        rows = cursor.rowcount
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    logger.info("demo_seed_step", step=step, rows=rows, duration_ms=round((time.monotonic() - started) * 1000))
    return rows


def _drop_foreign_keys(cursor: Any, table: str) -> list[tuple[str, str]]:
    # Dropping a key also touches the referenced table, which PostgreSQL refuses
    # while deferred checks on it are pending (earlier steps in one transaction).
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    foreign_keys = cursor.fetchall()
    for name, _definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return foreign_keys


def _seed_courses() -> int:
    values = ", ".join(["(%s, %s, %s, %s)"] * len(COURSES))
    params = [value for course in COURSES for value in course]
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO courses (code, title, status, price, currency, sessions_per_purchase, session_minutes,
                                 is_demo, created_at)
            SELECT code, title, 'active', price::numeric, 'EUR', sessions, 60, true, now()
            FROM (VALUES {values}) AS c(code, title, price, sessions)
            ON CONFLICT (code) DO NOTHING
            """,
            params,
        )
        rows = cursor.rowcount
    logger.info("demo_seed_step", step="courses", rows=rows, duration_ms=round((time.monotonic() - started) * 1000))
    return rows


def _seed_people(table: str, prefix: str, count: int, statuses: tuple[str, str, str], *, with_capacity: bool) -> int:
    """Students or trainers: deterministic names, emails `<prefix><i>@demo...`, a status mix.

    An email a real person already has is skipped, not adopted.
    """
    capacity_column, capacity_value = ("capacity, ", "20 + i %% 30, ") if with_capacity else ("", "")
    return _execute(
        table,
        f"""
        INSERT INTO {table} (full_name, email, phone, status, {capacity_column}is_demo, created_at, updated_at)
        SELECT
            (%(first)s::text[])[1 + i %% 30] || ' ' || (%(last)s::text[])[1 + (i / 30) %% 30],
            %(prefix)s || i || '@demo.ops-console.test',
            '+1555' || lpad(i::text, 7, '0'),
            CASE WHEN i %% 17 = 0 THEN %(second)s WHEN i %% 41 = 0 THEN %(third)s ELSE %(first_status)s END,
            {capacity_value}true, now() - (i %% 730) * interval '1 day',
            now()
        FROM generate_series(1::bigint, %(count)s) AS i
        ON CONFLICT ((upper(email))) DO NOTHING
        """,
        {
            "first": FIRST_NAMES,
            "last": LAST_NAMES,
            "prefix": prefix,
            "count": count,
            "first_status": statuses[0],
            "second": statuses[1],
            "third": statuses[2],
        },
    )


def _seed_trainer_courses() -> int:
    # Each trainer teaches three courses, spread evenly over the catalogue.
    return _execute(
        "trainer_courses",
        """
        INSERT INTO trainer_courses (trainer_id, course_id)
        SELECT t.id, c.id
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM trainers WHERE is_demo) AS t
        CROSS JOIN generate_series(0, 2) AS k
        JOIN (SELECT id, row_number() OVER (ORDER BY code) - 1 AS n, count(*) OVER () AS total
              FROM courses WHERE is_demo) AS c
          ON c.n = (t.n + k * 5) %% c.total
        ON CONFLICT DO NOTHING
        """,
    )


def _seed_payments(scale: DemoScale, *, bulk: bool) -> int:
    # Status mix out of 20: 12 succeeded, 2 refunded, 4 failed, 2 expired. Every one is settled (the provider
    # answered) or expired (it never reached the provider): nothing is in flight, so reconciliation finds no
    # demo payment to act on. Only settled ones carry a provider payment id.
    return _execute(
        "payments",
        """
        WITH s AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM students WHERE is_demo),
             c AS (SELECT id, price, currency, row_number() OVER (ORDER BY code) AS n, count(*) OVER () AS total
                   FROM courses WHERE is_demo),
             p AS (SELECT i, (i %% 20) AS bucket, now() - ((i * 7919) %% 525600) * interval '1 minute' AS at
                   FROM generate_series(1::bigint, %(payments)s) AS i)
        INSERT INTO payments (student_id, course_id, amount, currency, status, provider, provider_payment_id,
                              idempotency_key, metadata, is_demo, created_at, updated_at)
        SELECT s.id, c.id, c.price, c.currency,
               CASE WHEN p.bucket < 12 THEN 'succeeded' WHEN p.bucket < 14 THEN 'refunded'
                    WHEN p.bucket < 18 THEN 'failed' ELSE 'expired' END,
               'sandbox',
               CASE WHEN p.bucket < 18 THEN 'demo-prov-' || p.i END,
               'demo-pay-' || p.i,
               jsonb_build_object('source', 'seed_demo'),
               true, p.at, p.at
        FROM p
        JOIN s ON s.n = 1 + (p.i * 7907) %% %(students)s
        JOIN c ON c.n = 1 + (p.i / 3) %% c.total
        WHERE NOT EXISTS (SELECT 1 FROM payments done WHERE done.idempotency_key = 'demo-pay-' || p.i)
        ON CONFLICT DO NOTHING
        """,
        {"payments": scale.payments, "students": scale.students},
        table="payments" if bulk else None,
    )


def _seed_purchases(*, bulk: bool) -> int:
    # One purchase per settled payment; only the newest succeeded one per
    # (student, course) is active, and never beside an existing active one.
    return _execute(
        "student_course_purchases",
        """
        WITH settled AS (
            SELECT p.id, p.student_id, p.course_id, p.status, p.created_at,
                   row_number() OVER (PARTITION BY p.student_id, p.course_id, (p.status = 'succeeded')
                                      ORDER BY p.created_at DESC, p.id DESC) AS rank
            FROM payments p
            WHERE p.is_demo AND p.status IN ('succeeded', 'refunded')
              AND NOT EXISTS (SELECT 1 FROM student_course_purchases x WHERE x.payment_id = p.id)
        )
        INSERT INTO student_course_purchases (student_id, course_id, payment_id, is_active, is_demo, created_at)
        SELECT s.student_id, s.course_id, s.id,
               s.status = 'succeeded' AND s.rank = 1 AND NOT EXISTS (
                   SELECT 1 FROM student_course_purchases a
                   WHERE a.student_id = s.student_id AND a.course_id = s.course_id AND a.is_active),
               true, s.created_at + interval '1 minute'
        FROM settled s
        ON CONFLICT DO NOTHING
        """,
        table="student_course_purchases" if bulk else None,
    )


def _seed_allocations(*, bulk: bool) -> int:
    """Demo purchases to demo trainers of the course, never past a trainer's capacity.

    Active purchases: mostly active allocations, some pending (no trainer yet)
    or rejected; inactive purchases: completed or cancelled. An active one that
    would overfill its trainer (whose load counts real allocations too) stays
    pending instead, as the pipeline would leave it.

    Each purchase's trainer slot (its id modulo the course's trainer count) is
    computed before the join, so the join is on plain columns and hashes: as a
    join filter it compared every purchase with every trainer of its course
    (700,000 x 5,000 at a million payments).
    """
    return _execute(
        "trainer_allocations",
        """
        WITH ct AS (SELECT tc.course_id, tc.trainer_id, t.capacity,
                           row_number() OVER (PARTITION BY tc.course_id ORDER BY tc.trainer_id) - 1 AS n,
                           count(*) OVER (PARTITION BY tc.course_id) AS total
                    FROM trainer_courses tc JOIN trainers t ON t.id = tc.trainer_id
                    WHERE t.is_demo),
             totals AS (SELECT DISTINCT course_id, total FROM ct),
             load AS (SELECT trainer_id, count(*) AS active FROM trainer_allocations
                      WHERE status = 'active' GROUP BY trainer_id),
             pu AS (SELECT pu.*, pu.id %% totals.total AS slot, CASE
                        WHEN NOT pu.is_active THEN CASE WHEN pu.id %% 3 = 0 THEN 'cancelled' ELSE 'completed' END
                        WHEN pu.id %% 10 = 0 THEN 'pending'
                        WHEN pu.id %% 23 = 0 THEN 'rejected'
                        ELSE 'active' END AS status
                    FROM student_course_purchases pu JOIN totals ON totals.course_id = pu.course_id
                    WHERE pu.is_demo
                      AND NOT EXISTS (SELECT 1 FROM trainer_allocations a WHERE a.purchase_id = pu.id)),
             planned AS (SELECT pu.*, ct.trainer_id,
                                ct.capacity - coalesce(load.active, 0) AS room,
                                count(*) FILTER (WHERE pu.status = 'active')
                                    OVER (PARTITION BY ct.trainer_id ORDER BY pu.id) AS nth_active
                         FROM pu
                         JOIN ct ON ct.course_id = pu.course_id AND ct.n = pu.slot
                         LEFT JOIN load ON load.trainer_id = ct.trainer_id),
             fitted AS (SELECT planned.*,
                               CASE WHEN status = 'active' AND nth_active > room THEN 'pending'
                                    ELSE status END AS fitted_status
                        FROM planned)
        INSERT INTO trainer_allocations (student_id, course_id, purchase_id, trainer_id, status, allocated_at,
                                         is_demo, created_at, updated_at)
        SELECT student_id, course_id, id,
               CASE WHEN fitted_status = 'pending' THEN NULL ELSE trainer_id END,
               fitted_status,
               CASE WHEN fitted_status = 'pending' THEN NULL ELSE created_at + interval '2 hours' END,
               true, created_at + interval '1 minute', now()
        FROM fitted
        ON CONFLICT DO NOTHING
        """,
        table="trainer_allocations" if bulk else None,
    )


def _seed_sessions(*, bulk: bool) -> int:
    # Weekly sessions for demo allocations that have a trainer and went ahead: all the course gives
    # (sessions_per_purchase), so the pipeline's resume job finds no allocation short of sessions.
    return _execute(
        "tutoring_sessions",
        """
        WITH a AS (SELECT a.id, a.student_id, a.trainer_id, a.course_id, a.allocated_at,
                          c.sessions_per_purchase AS sessions, c.session_minutes
                   FROM trainer_allocations a JOIN courses c ON c.id = a.course_id
                   WHERE a.is_demo AND a.status IN ('active', 'completed')
                     AND NOT EXISTS (SELECT 1 FROM tutoring_sessions t WHERE t.allocation_id = a.id)),
             slots AS (SELECT a.*, k, (a.allocated_at + (k * 7 + 2) * interval '1 day')::date AS day,
                              make_time(9 + (a.id %% 9)::int, 0, 0) AS at
                       FROM a CROSS JOIN LATERAL generate_series(0, a.sessions - 1) AS k)
        INSERT INTO tutoring_sessions (allocation_id, student_id, trainer_id, course_id, scheduled_date,
                                       scheduled_time, duration_minutes, status, is_demo, created_at, updated_at)
        SELECT id, student_id, trainer_id, course_id, day, at, session_minutes,
               CASE WHEN day >= current_date THEN 'scheduled'
                    WHEN (id + k) %% 19 = 0 THEN 'no_show'
                    WHEN (id + k) %% 13 = 0 THEN 'cancelled'
                    ELSE 'completed' END,
               true, allocated_at, now()
        FROM slots
        ON CONFLICT DO NOTHING
        """,
        table="tutoring_sessions" if bulk else None,
    )


# The tables whose foreign keys the bulk path drops while it loads them.
BULK_TABLES = ("payments", "student_course_purchases", "trainer_allocations", "tutoring_sessions")


def demo_bulk_load_allowed() -> bool:
    """True when every table the bulk path would strip of its foreign keys is empty: nobody can be using them.

    One query (an EXISTS per table).
    """
    probes = " OR ".join(f"EXISTS (SELECT 1 FROM {table})" for table in BULK_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT NOT ({probes})")  # table names are constants
        return bool(cursor.fetchone()[0])


def demo_platform_seed(*, scale: DemoScale) -> dict[str, int]:
    """Create (or extend) the demo platform; returns rows inserted per table. Runs bulk SQL.

    The fast path (foreign keys dropped and re-added around each load, which
    locks the table exclusively until commit) runs on an empty database only.
    With data, the same inserts run with the keys in place and take only the
    row locks an INSERT takes: the console keeps answering during a seed.
    """
    started = time.monotonic()
    bulk = demo_bulk_load_allowed()
    logger.info("demo_seed_started", mode="bulk" if bulk else "online", payments=scale.payments)
    steps: list[tuple[str, Callable[[], int]]] = [
        ("courses", _seed_courses),
        ("students", lambda: _seed_people(
            "students", "student", scale.students, ("active", "paused", "archived"), with_capacity=False)),
        ("trainers", lambda: _seed_people(
            "trainers", "trainer", scale.trainers, ("active", "on_leave", "inactive"), with_capacity=True)),
        ("trainer_courses", _seed_trainer_courses),
        ("payments", lambda: _seed_payments(scale, bulk=bulk)),
        ("student_course_purchases", lambda: _seed_purchases(bulk=bulk)),
        ("trainer_allocations", lambda: _seed_allocations(bulk=bulk)),
        ("tutoring_sessions", lambda: _seed_sessions(bulk=bulk)),
    ]  # fmt: skip
    inserted = {}
    for table, step in steps:
        inserted[table] = step()
        # Each step reads the tables before it: planned without their statistics, the allocations step at a
        # million payments joined 700,000 purchases by nested loop and ran for over 15 minutes.
        _execute(f"analyze {table}", f"ANALYZE {table}")  # table names are constants
    logger.info("demo_seeded", duration_ms=round((time.monotonic() - started) * 1000), **inserted)
    return inserted
