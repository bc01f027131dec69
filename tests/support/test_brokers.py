"""redis_broker_only: skipped with its reason on RabbitMQ, run on Redis, refused without a reason."""

from __future__ import annotations

import pytest

from tests.support import brokers


class _Item:
    """What the collection hook reads of a collected test: its id and markers."""

    def __init__(self, *markers: pytest.MarkDecorator) -> None:
        self.nodeid = "tests/example.py::test_it"
        self.own_markers = [decorator.mark for decorator in markers]

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((mark for mark in self.own_markers if mark.name == name), None)

    def add_marker(self, decorator: pytest.MarkDecorator) -> None:
        self.own_markers.append(decorator.mark)


@pytest.fixture
def skipped(monkeypatch) -> list[str]:
    names: list[str] = []
    monkeypatch.setattr(brokers, "_skipped", names)
    return names


def test_a_redis_broker_only_test_is_skipped_on_rabbitmq_with_its_reason(settings, skipped):
    settings.CELERY_BROKER_KIND = "amqp"
    item = _Item(pytest.mark.redis_broker_only("reads the broker's Redis keys"))

    brokers.pytest_collection_modifyitems([item])

    skip = item.get_closest_marker("skip")
    assert skip is not None and skip.kwargs["reason"] == "Redis broker only: reads the broker's Redis keys"
    assert skipped == [item.nodeid]


def test_a_redis_broker_only_test_runs_on_redis(settings, skipped):
    settings.CELERY_BROKER_KIND = "redis"
    item = _Item(pytest.mark.redis_broker_only(reason="reads the broker's Redis keys"))

    brokers.pytest_collection_modifyitems([item])

    assert item.get_closest_marker("skip") is None and skipped == []


def test_a_redis_broker_only_marker_without_a_reason_is_refused(settings, skipped):
    item = _Item(pytest.mark.redis_broker_only)

    with pytest.raises(pytest.UsageError, match="needs a reason"):
        brokers.pytest_collection_modifyitems([item])
