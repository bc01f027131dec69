"""/metrics: Prometheus text over every process's snapshot, for a metrics:read token or a staff session."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.telemetry.reporter import snapshot_publish
from apps.telemetry.snapshot import Window, identity_here, snapshot_build
from lib import metrics
from tests.apiclients.factories import ApiClientFactory, bearer

pytestmark = pytest.mark.django_db


def _families(body: bytes) -> dict:
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def test_a_metrics_token_reads_every_reporting_process_once(client):
    metrics.reset()
    metrics.increment("http_requests", status="2xx", amount=7)
    metrics.observe_histogram("http_request_ms", 42.0)
    web = snapshot_build(identity=identity_here(kind="web"), window=Window(seconds=60))
    snapshot_publish(web)
    token = ApiClientFactory(scopes=["metrics:read"]).token

    response = client.get("/metrics", headers=bearer(token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = _families(response.content)
    [info] = families["ops_process_info"].samples
    assert info.labels["process"] == web["id"]
    requests = {s.labels["status"]: s.value for s in families["ops_http_requests"].samples if s.name.endswith("_total")}
    assert requests["2xx"] == 7
    assert "ops_http_request_duration_seconds" in families
    assert "ops_dependency_health" in families


def test_a_token_without_the_metrics_scope_is_refused(client):
    token = ApiClientFactory(scopes=["payments:read"]).token

    response = client.get("/metrics", headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_an_anonymous_scrape_is_refused(client):
    assert client.get("/metrics").status_code == 401


def test_a_staff_session_may_read_the_metrics(staff_client):
    assert staff_client.get("/metrics").status_code == 200


def test_the_grafana_dashboard_uses_only_names_the_exporter_writes():
    import json
    import re

    from tests.support.processes import ROOT

    exported = set(re.findall(r'"(ops_[a-z_]+)"', (ROOT / "apps" / "telemetry" / "prometheus.py").read_text()))
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    used = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in re.findall(r"ops_[a-z_]+", exprs)}

    assert used and used <= exported, used - exported
