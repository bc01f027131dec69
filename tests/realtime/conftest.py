from __future__ import annotations

import pytest

from tests.realtime.helpers import namespace


@pytest.fixture
def realtime_namespace(settings) -> dict[str, str]:
    """This test's Redis namespaces, for its servers and for publish_event / the selector in this process."""
    names = namespace()
    settings.WS_KEY_PREFIX = names["WS_KEY_PREFIX"]
    settings.WS_TRACKING_TTL = 1.5
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": names["CHANNEL_LAYER_PREFIX"]},
        }
    }
    return names
