from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from apps.workers.models import DeadLetter, DeadLetterAction

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("deadletters", "0001_dead_letters_tables")]
# The merge is 0002; the test ends on the latest migration, which the models (and later tests) expect.
AFTER = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("deadletters")


def test_migrating_merges_open_letters_of_the_same_call_into_the_newest_and_audits_the_rest():
    old_letters = _migrate(BEFORE).get_model("deadletters", "DeadLetter")
    try:
        now = timezone.now()
        for n, status in enumerate(["new", "replayed", "new", "resolved"]):
            old_letters.objects.create(
                task_id=f"t{n}", task_name="purchases.create_from_payment", args=[5], reason="permanent",
                exception_class="x.Boom", status=status, failures=n + 1,
            )  # fmt: skip
        old_letters.objects.filter(task_id="t0").update(first_failed_at=now - datetime.timedelta(days=2))
        old_letters.objects.filter(task_id="t2").update(last_failed_at=now + datetime.timedelta(minutes=1))
        old_letters.objects.create(task_id="other", task_name="purchases.create_from_payment", args=[6], reason="x")
    finally:
        _migrate(AFTER)

    survivor = DeadLetter.objects.get(task_id="t2")
    merged = DeadLetter.objects.filter(task_id__in=["t0", "t1"])
    assert (survivor.status, survivor.failures) == ("new", 1 + 2 + 3)
    assert survivor.first_failed_at == now - datetime.timedelta(days=2)
    assert set(merged.values_list("status", flat=True)) == {"discarded"}
    assert DeadLetter.objects.get(task_id="t3").status == "resolved"
    assert DeadLetter.objects.get(task_id="other").status == "new"
    assert DeadLetterAction.objects.filter(kind="discarded", dead_letter__in=merged).count() == 2


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps
