"""Structured logging: structlog for our events, stdlib logging routed through it.

JSON lines in production, readable console lines in development. Every line
carries the process kind (web, worker, beat, manage) and any bound context
such as the correlation id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog


def _program_name(arg: str) -> str:
    """`python -m pkg` puts pkg/__main__.py in argv[0]: name the package instead."""
    path = Path(arg)
    return path.parent.name if path.name == "__main__.py" else path.name


def process_kind(argv: Sequence[str]) -> str:
    """Which kind of process a command line starts: web, worker, beat, relay, manage (or test).

    It names the process in every log line and in PostgreSQL's
    application_name, so pg_stat_activity shows who holds connections
    (settings.py lets OPS_PROCESS_KIND override it).
    """
    program = " ".join(_program_name(arg) for arg in argv[:3])
    if "celery" in program:
        return "beat" if "beat" in argv[1:] else "worker"
    if any(server in program for server in ("uvicorn", "daphne", "gunicorn", "runserver")):
        return "web"
    if "pytest" in program:
        return "test"
    if "outbox_relay" in argv[1:3]:
        return "relay"
    return "manage"


def _add_process_kind(process_kind: str) -> structlog.types.Processor:
    def processor(_logger: Any, _method: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
        event_dict.setdefault("process", process_kind)
        return event_dict

    return processor


def _drop_color_message(_logger: Any, _method: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """uvicorn attaches an ANSI-coloured copy of each message; the plain one suffices."""
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors(process_kind: str) -> list[structlog.types.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_process_kind(process_kind),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]


def build_logging_config(*, level: str, fmt: str, process_kind: str) -> dict[str, Any]:
    """Configure structlog and return the stdlib dictConfig that renders through it."""
    shared = _shared_processors(process_kind)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final.append(structlog.processors.format_exc_info)
    final.append(renderer)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": final,
                "foreign_pre_chain": shared,
            },
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "structured"},
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "django.server": {"level": "WARNING"},
            "psycopg.pool": {"level": "WARNING"},
        },
    }
