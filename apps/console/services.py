"""Writes of the console: the audit trail."""

from __future__ import annotations

from typing import Any

import structlog

from apps.console.models import OperatorAction
from lib.context import get_correlation_id

logger = structlog.get_logger(__name__)


def audit_record(
    *,
    actor: Any,
    action: str,
    target: str = "",
    outcome: str,
    correlation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> OperatorAction:
    """Write one operator action to the audit table (and the log). Runs one INSERT.

    `actor` is the user who acted (None for the system); `outcome` one of
    OperatorAction.Outcome. The correlation id defaults to the current request's,
    so the row leads to its log lines.
    """
    if outcome not in OperatorAction.Outcome.values:
        raise ValueError(f"outcome must be one of {', '.join(OperatorAction.Outcome.values)}, got {outcome!r}")
    authenticated = actor is not None and actor.is_authenticated
    row = OperatorAction.objects.create(
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        action=action,
        target=target,
        outcome=outcome,
        correlation_id=correlation_id or get_correlation_id() or "",
        detail=detail or {},
    )
    logger.info(
        "operator_action", action=action, target=target, outcome=outcome, actor=row.actor_username, audit_id=row.pk
    )
    return row
