from __future__ import annotations

import json

import pytest

from lib.logging import process_kind
from tests.support.processes import child_env, run_manage

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EMIT = (
    "import logging, structlog;"
    "structlog.get_logger('ops.test').info('payment_captured', payment_id=7, duration_ms=12);"
    "logging.getLogger('django.request').warning('stdlib %s line', 'formatted')"
)


def _log_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_production_logs_are_json_lines_naming_the_event_and_the_process():
    result = run_manage("shell", "-c", EMIT, env=child_env(DEBUG="0", LOG_FORMAT="json"))

    event = next(line for line in _log_lines(result.stderr) if line["event"] == "payment_captured")
    assert event["payment_id"] == 7
    assert event["duration_ms"] == 12
    assert event["process"] == "manage"
    assert event["level"] == "info"
    assert "timestamp" in event


def test_stdlib_logging_is_routed_through_the_same_json_renderer():
    result = run_manage("shell", "-c", EMIT, env=child_env(DEBUG="0", LOG_FORMAT="json"))

    line = next(line for line in _log_lines(result.stderr) if line["logger"] == "django.request")
    assert line["event"] == "stdlib formatted line"
    assert line["process"] == "manage"


def test_the_process_kind_can_be_named_explicitly():
    result = run_manage("shell", "-c", EMIT, env=child_env(LOG_FORMAT="json", OPS_PROCESS_KIND="worker"))

    assert {line["process"] for line in _log_lines(result.stderr)} == {"worker"}


def test_development_logs_are_readable_console_lines():
    result = run_manage("shell", "-c", EMIT, env=child_env(DEBUG="1", LOG_FORMAT="console"))

    line = next(line for line in result.stderr.splitlines() if "payment_captured" in line)
    assert "payment_id=7" in line
    assert not line.startswith("{")


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["/venv/bin/celery", "-A", "ops_console", "worker"], "worker"),
        (["/venv/lib/celery/__main__.py", "-A", "ops_console", "beat"], "beat"),
        (["/venv/bin/uvicorn", "ops_console.asgi:application"], "web"),
        (["manage.py", "runserver"], "web"),
        (["manage.py", "outbox_relay"], "relay"),
        (["manage.py", "migrate"], "manage"),
    ],
)
def test_the_command_line_tells_the_process_kind(argv, kind):
    assert process_kind(argv) == kind
