from __future__ import annotations

import uuid
from collections.abc import Iterator

import kombu.pools
import pytest

from ops_console.celery import app
from tests.workers.harness import BROKER_KEY_PREFIX, CHANNEL_PREFIX, Worker


def _reset_broker_pools() -> None:
    """Publishers are pooled per connection; drop them so the next publish uses the new options."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(autouse=True)
def isolated_broker() -> Iterator[str]:
    """Each test publishes under its own key prefix, which its workers consume; nothing leaks between tests."""
    prefix = f"{BROKER_KEY_PREFIX}{uuid.uuid4().hex[:8]}:"
    original = dict(app.conf.broker_transport_options)
    app.conf.broker_transport_options = {**original, "global_keyprefix": prefix}
    _reset_broker_pools()
    yield prefix
    app.conf.broker_transport_options = original
    _reset_broker_pools()


@pytest.fixture
def isolated_channel_layer(settings) -> None:
    layers = {alias: {**config} for alias, config in settings.CHANNEL_LAYERS.items()}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": CHANNEL_PREFIX}
    settings.CHANNEL_LAYERS = layers


@pytest.fixture
def start_worker(tmp_path, isolated_broker) -> Iterator:
    """start_worker(**env) -> a running Worker; every worker is stopped after the test."""
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        env = {"CELERY_BROKER_KEY_PREFIX": isolated_broker, **env}
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", **env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
