from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.workers import CHANNEL_PREFIX, isolated_broker_keys


@pytest.fixture(autouse=True)
def isolated_broker() -> Iterator[str]:
    """Each test publishes under its own key prefix, which its workers consume; nothing leaks between tests."""
    with isolated_broker_keys() as prefix:
        yield prefix


@pytest.fixture
def isolated_channel_layer(settings) -> None:
    layers = {alias: {**config} for alias, config in settings.CHANNEL_LAYERS.items()}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": CHANNEL_PREFIX}
    settings.CHANNEL_LAYERS = layers
