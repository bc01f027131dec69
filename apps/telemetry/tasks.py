"""Beat's telemetry sample and the alert webhook. Thin: each calls one service."""

from __future__ import annotations

from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings

from apps.telemetry.services import AlertChange, alert_webhook_text, telemetry_sample
from apps.workers.retry import ReliableTask
from lib.http import http_client

WEBHOOK_TARGET = "alert_webhook"


@shared_task(name="telemetry.sample", ignore_result=True)
def telemetry_sample_task() -> None:
    """Beat, every 30 s: sample the cluster into telemetry_samples and evaluate the alert rules.

    Not retried: a lost sample is replaced by the next one.
    """
    telemetry_sample(notify=_notify)


def _notify(change: AlertChange) -> None:
    if settings.ALERT_WEBHOOK_URL:
        telemetry_alert_notify.delay(change.alert_id)


@shared_task(base=ReliableTask, name="telemetry.alert_notify", ignore_result=True)
def telemetry_alert_notify(alert_id: int) -> None:
    """POST {"text": ...} to ALERT_WEBHOOK_URL through the bounded HTTP client (lib/http.py)."""
    text = alert_webhook_text(alert_id=alert_id)
    if text is None or not settings.ALERT_WEBHOOK_URL:
        return
    url = urlsplit(settings.ALERT_WEBHOOK_URL)
    path = url.path + (f"?{url.query}" if url.query else "")
    http_client(WEBHOOK_TARGET).request("POST", path or "/", json={"text": text})
