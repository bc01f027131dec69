"""deploy/k8s: schema-valid manifests, probes, a shutdown that outlasts the drain, budgets and resources.

Validated offline against the Kubernetes OpenAPI schemas that kubernetes-validate (PyPI, pinned in
requirements-dev.txt) ships inside its package, strict (unknown fields refused): no network, no cluster.
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
from django.conf import settings

from scripts import procfile
from tests.deploy.support import celery_worker_queues, k8s_resource, k8s_resources

KUBERNETES_VERSION = "1.30"  # the oldest version these manifests promise to work on
WORKLOADS = {"Deployment", "Job"}


def _pod_specs() -> list[tuple[str, dict]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for _, doc in k8s_resources()
        if doc["kind"] in WORKLOADS
    ]


def _container_env(container: dict) -> dict[str, str]:
    """What the container's process reads: the ConfigMap, then the container's own `env`."""
    own = {item["name"]: item["value"] for item in container.get("env", [])}
    return {**k8s_resource("ConfigMap", "ops-console")["data"], **own}


def _worker_deployments() -> dict[str, set[str]]:
    """Deployment name -> the queues its Celery worker consumes, for every Deployment running one."""
    workers = {}
    for _, doc in k8s_resources():
        if doc["kind"] == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            queues = celery_worker_queues(container["args"][0], _container_env(container))
            if queues is not None:
                workers[doc["metadata"]["name"]] = queues
    return workers


def _arg(container: dict, flag: str, default: str) -> str:
    for item in container.get("env", []):
        if item["name"] == flag:
            return item["value"]
    return k8s_resource("ConfigMap", "ops-console")["data"].get(flag, default)


@pytest.mark.parametrize(("file_name", "resource"), k8s_resources(), ids=lambda value: str(value)[:40])
def test_each_manifest_is_valid_against_the_kubernetes_schema(file_name, resource):
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_a_misspelled_field_fails_the_schema_validation():
    web = k8s_resource("Deployment", "ops-console-web")
    broken = {**web, "spec": {**web["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_runs_one_procfile_type_by_name():
    types = procfile.load()
    for name, spec in _pod_specs():
        for container in spec["containers"]:
            assert "command" not in container, f"{name}: the image's entrypoint runs the Procfile"
            assert len(container["args"]) == 1 and container["args"][0] in types, name


def test_web_liveness_asks_health_and_readiness_asks_ready():
    container = k8s_resource("Deployment", "ops-console-web")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["readinessProbe"]["timeoutSeconds"] > settings.HEALTH_CHECK_TIMEOUT


def test_probes_send_no_host_header_of_their_own():
    container = k8s_resource("Deployment", "ops-console-web")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "httpHeaders" not in container[probe]["httpGet"], probe


def test_the_web_grace_period_covers_pre_stop_the_websocket_drain_and_uvicorns_shutdown():
    spec = k8s_resource("Deployment", "ops-console-web")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = float(_arg(container, "WS_DRAIN_TIMEOUT", str(settings.WS_DRAIN_TIMEOUT)))
    web_argv = procfile.argv("web", {"WEB_GRACEFUL_SHUTDOWN": _arg(container, "WEB_GRACEFUL_SHUTDOWN", "")})
    graceful = float(web_argv[web_argv.index("--timeout-graceful-shutdown") + 1])
    assert spec["terminationGracePeriodSeconds"] >= float(pre_stop[1]) + drain + graceful


def test_the_pipeline_and_housekeeping_workers_run_as_deployments_of_their_own():
    assert sorted(_worker_deployments()) == ["ops-console-worker-housekeeping", "ops-console-worker-pipeline"]


def test_the_workers_together_consume_every_worker_queue_and_each_queue_in_one_deployment_only():
    groups = _worker_deployments()
    assert set().union(*groups.values()) == set(settings.WORKER_QUEUES), groups
    assert sum(len(queues) for queues in groups.values()) == len(settings.WORKER_QUEUES), groups


def test_no_two_deployments_select_the_same_pods():
    selectors = [str(doc["spec"]["selector"]) for _, doc in k8s_resources() if doc["kind"] == "Deployment"]
    assert len(set(selectors)) == len(selectors), selectors


@pytest.mark.parametrize("name", sorted(_worker_deployments()))
def test_the_worker_grace_period_lets_a_running_task_reach_its_hard_time_limit(name):
    spec = k8s_resource("Deployment", name)["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > settings.CELERY_TASK_TIME_LIMIT


@pytest.mark.parametrize("name", ["ops-console-web", *sorted(_worker_deployments())])
def test_web_and_workers_have_a_disruption_budget_selecting_their_pods(name):
    budget = k8s_resource("PodDisruptionBudget", name)
    deployment = k8s_resource("Deployment", name)
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]


def test_beat_is_one_replica_replaced_never_rolled():
    beat = k8s_resource("Deployment", "ops-console-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


def test_every_container_requests_cpu_and_memory_and_limits_memory_above_the_request():
    for name, spec in _pod_specs():
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert _mebibytes(resources["limits"]["memory"]) > _mebibytes(resources["requests"]["memory"]), name


def test_every_pod_runs_as_the_images_non_root_user():
    for name, spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0, name


def _mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_the_probe_naming_the_pods_address_is_answered_and_any_other_request_naming_it_refused(client, settings):
    # kubelet names the pod's IP as Host, which no ALLOWED_HOSTS can list ahead (apps/health/middleware.py).
    settings.ALLOWED_HOSTS = k8s_resource("ConfigMap", "ops-console")["data"]["ALLOWED_HOSTS"].split(",")
    assert client.get("/health", HTTP_HOST="10.12.0.7:8000").status_code == 200
    assert client.get("/ops/", HTTP_HOST="10.12.0.7:8000").status_code == 400
