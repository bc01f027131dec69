"""Structured log events captured by pytest's caplog."""

from __future__ import annotations

from typing import Any

import pytest


def logged_events(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    """The captured `event`s; structlog hands the stdlib record its event dict as `msg`."""
    return [
        record.msg for record in caplog.records if isinstance(record.msg, dict) and record.msg.get("event") == event
    ]
