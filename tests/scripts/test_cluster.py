"""`make cluster`'s proxy configuration (scripts/cluster.py): what HAProxy is told, and that it accepts it."""

from __future__ import annotations

import pytest

from scripts import cluster, devstack
from tests.support.processes import require_slow_marker

BACKENDS = [cluster.Backend("web1", 18001), cluster.Backend("web2", 18002)]


def _config(**timing: int) -> str:
    return cluster.haproxy_config(port=18000, stats_port=18404, backends=BACKENDS, timing=cluster.Timing(**timing))


def test_the_proxy_checks_every_instance_on_ready_at_the_given_pace():
    config = _config(check_interval_ms=500, fall=2, rise=1)

    assert "http-check send meth GET uri /ready" in config
    assert "server web1 127.0.0.1:18001 check inter 500ms fall 2 rise 1" in config
    assert "server web2 127.0.0.1:18002 check inter 500ms fall 2 rise 1" in config


def test_the_proxy_retries_on_another_instance_and_never_retries_a_post_that_reached_one():
    config = _config()

    assert "retry-on conn-failure empty-response response-timeout" in config
    assert "option redispatch 1" in config
    assert "http-request disable-l7-retry if !METH_GET !METH_HEAD" in config


def test_the_proxy_replaces_the_clients_forwarded_for_and_names_the_instance_that_answered():
    config = _config()

    assert "http-request set-header X-Forwarded-For %[src]" in config
    assert "http-response set-header X-Served-By %s" in config


def test_a_web_instance_trusts_the_proxy_and_accepts_sockets_from_its_origin():
    base = {"WS_ALLOWED_ORIGINS": "http://localhost:8000", "DEBUG": "1"}

    env = cluster.web_instance_env(base, port=8001, proxy_origin="http://127.0.0.1:8000")

    assert env["WS_ALLOWED_ORIGINS"].split(",") == [
        "http://localhost:8000",
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8001",
    ]
    assert (env["TRUSTED_PROXIES"], env["PORT"], env["HOST"]) == ("127.0.0.1", "8001", "127.0.0.1")
    assert env["OPS_PROCESS_KIND"] == "web"
    assert env["DEBUG"] == "1"


def test_the_instances_ports_are_distinct_and_never_the_proxys():
    ports = devstack._distinct_free_ports(3, {8000})

    assert len(set(ports)) == 3
    assert 8000 not in ports


@pytest.mark.slow
def test_haproxy_accepts_the_configuration(tmp_path):
    require_slow_marker()
    config = tmp_path / "haproxy.cfg"
    config.write_text(_config())

    cluster.haproxy_check(cluster.require_haproxy(), config)  # raises with HAProxy's own message
