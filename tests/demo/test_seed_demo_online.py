"""seed_demo beside live data: the fast bulk path (foreign keys dropped, tables locked) is for an empty database only."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from apps.demo.services import BULK_TABLES, DemoScale, demo_bulk_load_allowed, demo_platform_seed
from apps.payments.models import Payment
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)

SCALE = DemoScale.for_payments(200)
READER_GIVES_UP_AFTER_S = 20.0


def test_an_empty_database_may_take_the_bulk_path():
    assert demo_bulk_load_allowed()


def test_a_database_with_a_payment_may_not():
    PaymentFactory()

    assert not demo_bulk_load_allowed()


def test_seeding_a_database_with_data_never_blocks_a_reader_of_its_tables():
    PaymentFactory()  # a real row: the database is live
    reading, done = threading.Event(), threading.Event()
    outcome: dict[str, bool] = {}

    def reader() -> None:
        """An operator's list page: a transaction that reads every table the seed writes, held open."""
        try:
            with transaction.atomic():
                connections["default"].cursor().execute(f"LOCK TABLE {', '.join(BULK_TABLES)} IN ACCESS SHARE MODE")
                reading.set()
                outcome["released_by_test"] = done.wait(READER_GIVES_UP_AFTER_S)
        finally:
            connections.close_all()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert reading.wait(10)
        inserted = demo_platform_seed(scale=SCALE)
    finally:
        done.set()
        thread.join()

    assert outcome["released_by_test"], "the seed waited for the reader: it took a lock readers block"
    assert inserted["payments"] == 200
    assert Payment.objects.filter(is_demo=True).count() == 200
