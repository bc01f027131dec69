"""compose.yaml: two web instances behind a proxy, workers, beat, the relay, PostgreSQL, Redis, RabbitMQ on request.

Read with PyYAML (always). `docker compose config` validates it too where the compose plugin
is installed; this machine's docker client has none, so that test is skipped here.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

from scripts import procfile
from tests.deploy.support import COMPOSE, ROOT, celery_worker_queues, compose

APP_IMAGE = "ops-console:local"
BALANCER_IDLE = 65  # seconds: an AWS ALB's default idle timeout, the balancer docs/deployment.md assumes


def _app_services() -> dict[str, dict]:
    return {name: service for name, service in compose()["services"].items() if service.get("image") == APP_IMAGE}


def test_every_application_service_runs_one_procfile_type_by_name():
    types = procfile.load()
    commands = {name: service["command"] for name, service in _app_services().items()}
    assert commands and all(len(command) == 1 and command[0] in types for command in commands.values()), commands


def test_the_stack_has_two_web_instances_both_worker_groups_beat_a_relay_and_the_release_step():
    runs = sorted(service["command"][0] for service in _app_services().values())
    assert runs == ["beat", "relay", "release", "web", "web", "worker-housekeeping", "worker-pipeline"]


def test_the_workers_together_consume_every_worker_queue_and_each_queue_in_one_group_only():
    groups = {}
    for service in _app_services().values():
        env = {name: str(value) for name, value in service["environment"].items()}
        queues = celery_worker_queues(service["command"][0], env)
        if queues is not None:
            groups[service["command"][0]] = queues
    assert set().union(*groups.values()) == set(settings.WORKER_QUEUES), groups
    assert sum(len(queues) for queues in groups.values()) == len(settings.WORKER_QUEUES), groups


def test_the_proxy_balances_over_both_web_instances():
    webs = sorted(name for name, service in _app_services().items() if service["command"] == ["web"])
    proxy = compose()["services"]["proxy"]
    config = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    assert sorted(proxy["depends_on"]) == webs
    assert all(re.search(rf"^\s*server {web} {web}:8000 check", config, re.M) for web in webs)
    assert any("deploy/compose/haproxy.cfg" in volume for volume in proxy["volumes"])


def test_the_proxy_waits_less_than_a_balancer_idle_timeout_and_keeps_idle_connections_longer():
    config = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    timeouts = {name: int(seconds) for name, seconds in re.findall(r"^\s*timeout ([\w-]+) (\d+)s\b", config, re.M)}
    assert settings.REQUEST_TIMEOUT < timeouts["server"] < BALANCER_IDLE, (
        "after the app's own deadline, before the balancer's"
    )
    assert timeouts["http-keep-alive"] > BALANCER_IDLE


def test_application_services_start_after_the_release_step_succeeded():
    for name, service in _app_services().items():
        if service["command"] != ["release"]:
            assert service["depends_on"]["release"] == {"condition": "service_completed_successfully"}, name


def test_only_web_containers_keep_the_images_http_health_check():
    for name, service in _app_services().items():
        assert (service["command"] == ["web"]) == ("healthcheck" not in service), name


def test_postgresql_and_redis_are_always_there_and_rabbitmq_only_with_its_profile():
    services = compose()["services"]
    assert "profiles" not in services["postgres"] and "profiles" not in services["redis"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]


def test_the_web_instances_trust_the_proxy_address_and_no_other():
    services = compose()["services"]
    proxy_address = services["proxy"]["networks"]["ops"]["ipv4_address"]
    for name, service in _app_services().items():
        assert service["environment"]["TRUSTED_PROXIES"] == proxy_address, name


def _interpolated(value: str, given: dict[str, str]) -> str:
    """compose's ${NAME:?message} and ${NAME:-default}, from `given`."""

    def one(match: re.Match[str]) -> str:
        name, operator, rest = match.groups()
        if name in given:
            return given[name]
        assert operator == ":-", f"{name} is required by compose.yaml and the test gave none"
        return rest

    return re.sub(r"\$\{([A-Z_]+)(:[?-])([^}]*)\}", one, value)


@pytest.mark.slow
def test_the_web_environment_passes_the_release_steps_deploy_checks(tmp_path):
    given = {"SECRET_KEY": secrets.token_urlsafe(50), "PAYMENT_WEBHOOK_SECRET": "whsec-" + secrets.token_hex(8)}
    web = compose()["services"]["web1"]["environment"]
    env = {name: _interpolated(str(value), given) for name, value in web.items()}
    # The compose hosts do not resolve here; the deploy checks must not need them.
    env |= {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DEBUG": "0"}
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0,
    reason="no docker compose plugin on this machine",
)
def test_docker_compose_accepts_the_file():
    env = {"SECRET_KEY": "x" * 50, "PAYMENT_WEBHOOK_SECRET": "whsec", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    completed = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy on this machine")
def test_haproxy_accepts_the_proxy_configuration():
    config = ROOT / "deploy" / "compose" / "haproxy.cfg"
    completed = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    # web1 and web2 resolve on the compose network only: haproxy warns, and still accepts the file.
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Configuration file is valid" in completed.stdout + completed.stderr
