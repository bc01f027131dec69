"""The beat task samples the cluster into PostgreSQL, evaluates the rules and keeps the alerts' history."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from apps.telemetry.models import Alert, MetricSample
from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.selectors import alert_list
from apps.telemetry.services import samples_prune, telemetry_sample
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from apps.telemetry.tasks import telemetry_alert_notify, telemetry_sample_task
from lib.http import reset_clients

pytestmark = pytest.mark.django_db(transaction=True)


def _publish(kind: str, *, pid: int) -> None:
    identity = identity_here(kind=kind)
    identity = type(identity)(**{**identity.__dict__, "pid": pid, "group": f"{identity.host}:{pid}"})
    assert snapshot_publish(snapshot_build(identity=identity, window=Window(seconds=60)))


def test_the_beat_task_stores_every_series_of_the_overview():
    telemetry_sample_task()

    names = set(MetricSample.objects.values_list("name", flat=True))
    assert {"http.rps", "db_pool.in_use", "websockets.connections", "queues.depth", "dead_letters.total"} <= names
    assert {"queues.depth.default", "health.postgres", "workers.alive"} <= names
    assert {"postgres_connections.total", "postgres_connections.idle_in_transaction"} <= names


def test_a_missing_worker_and_beat_fire_and_resolve_through_the_beat_task():
    telemetry_sample_task()
    firing = {a.rule for a in Alert.objects.filter(state="firing")}
    assert {"workers_missing", "beat_missing"} <= firing

    _publish("worker", pid=101)
    _publish("beat", pid=102)
    telemetry_sample_task()

    resolved = {a["rule"]: a for a in alert_list() if a["state"] == "resolved"}
    assert {"workers_missing", "beat_missing"} <= set(resolved)
    assert resolved["beat_missing"]["resolved_at"] is not None
    assert not Alert.objects.filter(state="firing", rule__in=["workers_missing", "beat_missing"]).exists()


def test_an_alert_that_keeps_firing_stays_one_episode():
    now = timezone.now()
    telemetry_sample(now=now - datetime.timedelta(seconds=30))
    telemetry_sample(now=now)

    assert Alert.objects.filter(rule="beat_missing").count() == 1


def test_changes_are_handed_to_the_notifier_after_commit():
    handed = []

    changes = telemetry_sample(notify=handed.append)

    assert handed == changes
    assert {c.rule for c in handed} >= {"beat_missing"}


def test_old_samples_are_pruned_in_batches(settings):
    settings.TELEMETRY_RETENTION_DAYS = 14
    old = timezone.now() - datetime.timedelta(days=15)
    MetricSample.objects.bulk_create([MetricSample(name="http.rps", sampled_at=old, value=1.0) for _ in range(5)])
    MetricSample.objects.create(name="http.rps", sampled_at=timezone.now(), value=2.0)

    assert samples_prune(batch=3) == 3
    assert samples_prune(batch=3) == 2
    assert list(MetricSample.objects.values_list("value", flat=True)) == [2.0]


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver(settings):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/xyz"
    settings.ALERT_WEBHOOK_URL = url
    settings.HTTP_TARGETS = {
        **settings.HTTP_TARGETS,
        "alert_webhook": {"base_url": f"http://127.0.0.1:{server.server_port}", "kind": "external"},
    }
    reset_clients()
    _Hook.received = []
    yield _Hook.received
    server.shutdown()
    reset_clients()


def test_an_alert_is_posted_to_the_webhook_as_slack_json(webhook_receiver):
    alert = Alert.objects.create(
        rule="breaker_open", since=timezone.now(), summary="payment provider circuit breaker is open"
    )

    telemetry_alert_notify(alert.id)

    [(path, body)] = webhook_receiver
    assert path == "/services/T000/B000/xyz"
    assert body["text"].startswith(":red_circle: FIRING breaker_open: payment provider circuit breaker is open")
