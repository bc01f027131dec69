"""Many instances on loopback: HAProxy in front of two web instances, two workers, beat, the outbox relay and the
sandbox provider, on the suite's PostgreSQL and Redis under one namespace of their own.

    with running_cluster(tmp_dir, RATE_LIMIT_API="20/m") as cluster:
        requests.get(f"{cluster.url}/health")              # through the proxy: X-Served-By names the instance
        cluster.web[0].process.kill()                      # kill -9 one instance
        cluster.web_restart(0)                             # and bring it back, UP in HAProxy's eyes

scripts/cluster.py writes the proxy's configuration (`make cluster` uses the same); docs/cluster.md explains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from scripts import cluster as proxy_config
from scripts import procfile
from tests.support.processes import Process, child_env, free_port, launch
from tests.support.provider import SandboxProvider, sandbox_provider_process
from tests.support.realtime import open_socket
from tests.support.servers import wait_until_serving
from tests.support.waiting import wait_until
from tests.support.workers import WORKER_ENV, Worker, beat, isolated_broker_keys, relay, worker_connections_closed

API_TOKEN = "cluster-token-0123456789abcdef"
WEB_INSTANCES = 2
WORKERS = 2
# HAProxy probes /ready every 500 ms and takes an instance out after two failures: about a second to notice.
TIMING = proxy_config.Timing(check_interval_ms=500, fall=2, rise=1)
SERVED_BY = "X-Served-By"
START_TIMEOUT_S = 60.0  # a busy 2-core machine importing Django in several processes at once
STOP_GRACE_S = 20.0  # uvicorn's graceful shutdown is 15 s (the Procfile's WEB_GRACEFUL_SHUTDOWN)


def cluster_namespace() -> dict[str, str]:
    """The Redis namespaces of one cluster: concurrent test runs (and other modules) share one Redis."""
    tag = f"test-cluster-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return {
        "WS_KEY_PREFIX": f"{tag}:ws",
        "CHANNEL_LAYER_PREFIX": f"{tag}:asgi",
        "RATE_LIMIT_KEY_PREFIX": f"{tag}:rl",
        "HTTP_BREAKER_KEY_PREFIX": f"{tag}:breaker",
        "TELEMETRY_KEY_PREFIX": f"{tag}:telemetry",
        "CACHE_KEY_PREFIX": f"{tag}:cache",
    }


# Short intervals, so a killed process leaves the counts within a test's patience.
CLUSTER_TIMING_ENV = {
    "WS_HEARTBEAT_INTERVAL": "0.5",
    "WS_TRACKING_TTL": "3",  # six heartbeats: a loaded machine may stall one instance for seconds
    "WS_DRAIN_TIMEOUT": "5",
    "TELEMETRY_INTERVAL": "1",
    "TELEMETRY_OVERVIEW_CACHE": "0.5",
    "TASK_MAX_DELIVERIES": "20",  # redeliveries after a killed worker are expected; nothing here is poison
}


# Limits small enough for tests/cluster to reach; each test uses its own users, so their counts do not add up.
PER_USER = 4
API_LIMIT = 40
BREAKER_FAIL_MAX = 3
CLUSTER_LIMITS_ENV = {
    "WS_MAX_CONNECTIONS_PER_USER": str(PER_USER),
    "RATE_LIMIT_API": f"{API_LIMIT}/m",
    "HTTP_TARGET_PAYMENT_PROVIDER_RETRIES": "0",
    "HTTP_TARGET_PAYMENT_PROVIDER_BREAKER_FAIL_MAX": str(BREAKER_FAIL_MAX),
}


@dataclass
class WebInstance:
    name: str  # as HAProxy names it, and answers in X-Served-By
    port: int
    env: dict[str, str]
    log_path: Path
    process: Process | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_until_serving()

    def launch(self) -> None:
        argv = [*procfile.argv("web", self.env), "--no-access-log"]
        self.process = launch(argv, log_path=self.log_path, env=self.env)

    def wait_until_serving(self) -> None:
        assert self.process is not None, "not launched"
        wait_until_serving(self.process, self.http, timeout=START_TIMEOUT_S)

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()


@dataclass
class Front:
    """The proxy as the realtime helpers see a server (tests.support.realtime.open_socket)."""

    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.http

    def ws(self, path: str = "/ws/events/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


@dataclass
class Cluster:
    front: Front
    stats_port: int
    namespace: dict[str, str]
    broker_prefix: str
    provider: SandboxProvider
    web: list[WebInstance]
    workers: list[Worker] = field(default_factory=list)
    proxy: Process | None = None
    beat: Process | None = None
    relay: Process | None = None
    worker_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = Path()

    @property
    def url(self) -> str:
        return self.front.http

    def backend_states(self) -> dict[str, str]:
        """HAProxy's view of each web instance: UP, DOWN, "UP 1/2"... Talks HTTP."""
        return proxy_config.backend_states(self.stats_port)

    def wait_until_all_up(self, timeout: float = 20) -> None:
        wait_until(
            lambda: set(self.backend_states().values()) == {"UP"}, timeout=timeout, what="every instance UP in HAProxy"
        )

    def web_named(self, name: str) -> WebInstance:
        return next(instance for instance in self.web if instance.name == name)

    def web_restart(self, index: int) -> None:
        """Start a stopped or killed web instance again, on its port, and wait until HAProxy sends it traffic."""
        self.web[index].start()
        self.wait_until_all_up()

    def worker_start(self, index: int) -> Worker:
        worker = Worker(self.log_dir / f"worker-{index}-{len(self.workers)}.log", **self.worker_env)
        worker.start()
        if index < len(self.workers):
            self.workers[index] = worker
        else:
            self.workers.append(worker)
        return worker

    def settings_for_this_process(self, settings: Any) -> None:
        """Point the test process's settings (pytest-django's `settings`) at the cluster's namespaces."""
        for name in ("WS_KEY_PREFIX", "RATE_LIMIT_KEY_PREFIX", "HTTP_BREAKER_KEY_PREFIX", "TELEMETRY_KEY_PREFIX"):
            setattr(settings, name, self.namespace[name])
        settings.WS_TRACKING_TTL = float(CLUSTER_TIMING_ENV["WS_TRACKING_TTL"])
        layer = settings.CHANNEL_LAYERS["default"]
        prefixed = {**layer, "CONFIG": {**layer["CONFIG"], "prefix": self.namespace["CHANNEL_LAYER_PREFIX"]}}
        settings.CHANNEL_LAYERS = {**settings.CHANNEL_LAYERS, "default": prefixed}


@contextmanager
def running_cluster(log_dir: Path, **overrides: str) -> Iterator[Cluster]:
    """The whole cluster, started in dependency order and stopped in reverse; `overrides` go to every process.

    Raises HaproxyMissing (one line saying how to install it) when HAProxy is not there.
    """
    haproxy = proxy_config.require_haproxy()
    namespace = cluster_namespace()
    front = Front(free_port())
    stats_port = free_port()
    names = [f"web{i + 1}" for i in range(WEB_INSTANCES)]
    ports = [free_port() for _ in names]
    with ExitStack() as stack:
        broker_prefix = stack.enter_context(isolated_broker_keys())  # this process publishes there too
        secret = settings.PAYMENT_WEBHOOK_SECRET or "sandbox-test-secret"
        provider = stack.enter_context(
            sandbox_provider_process(
                log_path=log_dir / "sandbox_provider.log",
                webhook_secret=secret,
                webhook_url=f"{front.http}/api/payments/webhook",
            )
        )
        common = {
            **WORKER_ENV,
            **namespace,
            **CLUSTER_TIMING_ENV,
            "CELERY_BROKER_KEY_PREFIX": broker_prefix,
            "API_TOKENS": API_TOKEN,
            "PAYMENT_PROVIDER_URL": provider.url,
            "PAYMENT_WEBHOOK_SECRET": secret,
            **overrides,
        }
        web = [
            WebInstance(
                name,
                port,
                child_env(**proxy_config.web_instance_env(common, port=port, proxy_origin=front.origin)),
                log_dir / f"{name}.log",
            )
            for name, port in zip(names, ports, strict=True)
        ]
        cluster = Cluster(front, stats_port, namespace, broker_prefix, provider, web, log_dir=log_dir)
        cluster.worker_env = {**common, "OPS_PROCESS_KIND": "worker"}
        stack.callback(_stop_all, cluster)
        for instance in web:  # side by side: each spends seconds importing Django
            instance.launch()
        for instance in web:
            instance.wait_until_serving()
        cluster.proxy = _start_haproxy(haproxy, log_dir, front.port, stats_port, web)
        for index in range(WORKERS):
            cluster.worker_start(index)
        cluster.beat = beat(log_dir / "beat.log", **common).start()
        cluster.relay = relay(log_dir / "relay.log", **common).start()
        cluster.wait_until_all_up()
        yield cluster


def _start_haproxy(haproxy: Path, log_dir: Path, port: int, stats_port: int, web: list[WebInstance]) -> Process:
    config = log_dir / "haproxy.cfg"
    backends = [proxy_config.Backend(instance.name, instance.port) for instance in web]
    config.write_text(proxy_config.haproxy_config(port=port, stats_port=stats_port, backends=backends, timing=TIMING))
    proxy_config.haproxy_check(haproxy, config)
    process = launch(proxy_config.haproxy_argv(haproxy, config), log_path=log_dir / "haproxy.log", env=dict(os.environ))
    wait_until_serving(process, f"http://127.0.0.1:{port}")
    return process


def _stop_all(cluster: Cluster) -> None:
    """SIGTERM to every process at once, then wait for each (SIGKILL after its grace); the proxy first, so no
    client reaches an instance that is going. Then wait once for the workers' database sessions to end."""
    processes = [cluster.proxy, *(instance.process for instance in cluster.web), *cluster.workers]
    running = [process for process in [*processes, cluster.beat, cluster.relay] if process and process.alive()]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    worker_connections_closed()


# --- WebSocket clients through the proxy ----------------------------------------------------------


def served_by(socket: ClientConnection) -> str:
    """The web instance HAProxy sent the socket to (its X-Served-By on the 101 answer)."""
    assert socket.response is not None
    return socket.response.headers[SERVED_BY]


async def accepted(socket: ClientConnection, *, settle: float = 0.3) -> bool:
    """True when the server keeps the socket open for `settle` seconds (refusals are accept-then-close)."""
    try:
        async with asyncio.timeout(settle):
            await socket.wait_closed()
    except TimeoutError:
        return True
    return False


async def connect_until_accepted(front: Front, cookie: str, *, timeout: float = 15) -> ClientConnection:
    """Open a socket through the proxy as a browser would reconnect: retry refusals (1013 while an instance drains,
    a handshake HAProxy could not place) every 0.2 s until one stays open, or fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                socket = await open_socket(front, cookie)  # type: ignore[arg-type]  # duck-typed server
            except (OSError, InvalidStatus, ConnectionClosed):
                await asyncio.sleep(0.2)
                continue
            if await accepted(socket):
                return socket
            await asyncio.sleep(0.2)
