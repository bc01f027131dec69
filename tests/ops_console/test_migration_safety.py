"""Migrations build indexes on existing tables without blocking writes.

Every index built on a table created by an earlier migration must be built
CONCURRENTLY (AddIndexConcurrently, or RunSQL with CREATE INDEX CONCURRENTLY)
in a migration with `atomic = False`: a plain CREATE INDEX holds a lock that
blocks every write to the table until the build ends. A table created in the
same migration is empty, so any index will do there. Walks the migration graph
from disk; no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader

# Migrations that ran everywhere before this test existed: rewriting one now changes nothing
# where it already ran. The note says what the build locked. New migrations get no entry here.
APPLIED_BEFORE_THE_RULE = {
    ("payments", "0004_payments_student_course_in_flight_uniq"): "payments, for one partial unique index build",
    ("deadletters", "0002_dead_letters_open_fingerprint"): "dead_letters: failed tasks only, pruned after 90 days",
    ("deadletters", "0003_dead_letters_replay_of"): "dead_letters, for the foreign key's index",
    ("deadletters", "0005_dead_letters_console"): "dead_letters, for two indexes",
}

PLAIN_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b)", re.IGNORECASE)
CONCURRENT_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", re.IGNORECASE)


def _sql_of(operation: migrations.RunSQL) -> str:
    sql: Any = operation.sql
    return " ".join(sql if isinstance(sql, list | tuple) else [sql]) if not callable(sql) else ""


def _database_operations(operations: list[Any]) -> Iterator[Any]:
    """Each operation as the database runs it: SeparateDatabaseAndState opened up."""
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            yield from _database_operations(operation.database_operations)
        else:
            yield operation


def _builds_an_index(operation: Any) -> str | None:
    """'plain' or 'concurrent' when the operation builds an index on an existing model's table, else None."""
    if isinstance(operation, AddIndexConcurrently):
        return "concurrent"
    if isinstance(operation, migrations.AddIndex):
        return "plain"
    if isinstance(operation, migrations.AddConstraint):
        constraint = operation.constraint
        return "plain" if isinstance(constraint, models.UniqueConstraint | ExclusionConstraint) else None
    if isinstance(operation, migrations.AddField):
        field = operation.field
        return "plain" if field.unique or getattr(field, "db_index", False) else None
    if isinstance(operation, migrations.RunSQL):
        sql = _sql_of(operation)
        if PLAIN_CREATE_INDEX.search(sql):
            return "plain"
        return "concurrent" if CONCURRENT_CREATE_INDEX.search(sql) else None
    return None


def _index_builds() -> Iterator[tuple[tuple[str, str], str, bool, Any]]:
    """(migration key, 'plain'|'concurrent', atomic, operation) for each index built on a table an
    earlier migration created (RunSQL names no model: always counted)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    created_in: dict[tuple[str, str], tuple[str, str]] = {}
    for key in _plan(loader):
        migration = loader.disk_migrations[key]
        for operation in _database_operations(migration.operations):
            if isinstance(operation, migrations.CreateModel):
                created_in[(key[0], operation.name_lower)] = key
                continue
            kind = _builds_an_index(operation)
            model = getattr(operation, "model_name_lower", None)
            if kind is None or (model is not None and created_in.get((key[0], model)) == key):
                continue
            yield key, kind, migration.atomic, operation


def _plan(loader: MigrationLoader) -> list[tuple[str, str]]:
    """Every migration on disk, each after its dependencies."""
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        plan.extend(node for node in loader.graph.forwards_plan(leaf) if node not in plan)
    return [key for key in plan if key in loader.disk_migrations]


def test_every_index_on_an_existing_table_is_built_concurrently_outside_a_transaction():
    unsafe = sorted(
        {f"{app}.{name}: {type(operation).__name__}" for (app, name), kind, _, operation in _index_builds()
         if kind == "plain" and (app, name) not in APPLIED_BEFORE_THE_RULE}
    )  # fmt: skip

    assert unsafe == [], "build these indexes with AddIndexConcurrently in a migration with atomic = False"


def test_a_concurrent_index_build_is_in_a_migration_that_is_not_atomic():
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block: PostgreSQL refuses it.
    atomic = sorted(
        {f"{app}.{name}" for (app, name), kind, is_atomic, _ in _index_builds() if kind == "concurrent" and is_atomic}
    )

    assert atomic == []


def test_each_migration_excused_from_the_rule_still_breaks_it():
    """An entry whose migration was rewritten (or removed) must leave the list."""
    breaking = {key for key, kind, _, _ in _index_builds() if kind == "plain"}

    assert set(APPLIED_BEFORE_THE_RULE) <= breaking


def test_the_walk_sees_the_concurrent_builds_it_checks():
    """The rule is not vacuous: the migrations it approves are found, e.g. payments' later indexes."""
    concurrent = {key for key, kind, _, _ in _index_builds() if kind == "concurrent"}

    assert ("payments", "0002_payments_created_and_status_indexes") in concurrent
    assert ("directory", "0002_students_trainers_user") in concurrent  # RunSQL inside SeparateDatabaseAndState
