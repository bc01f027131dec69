"""`make run` (scripts/devstack.py) survives restarts and says so when an embedded service dies."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from scripts import devstack
from tests.support.processes import require_slow_marker
from tests.support.waiting import wait_until


def _port_left_in_time_wait() -> int:
    """A port whose server closed a connection first: the kernel keeps it in TIME-WAIT for a minute."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server closes first, as uvicorn does on shutdown
        client.close()
    return port


def test_a_restarted_console_keeps_its_port_while_old_connections_linger_in_time_wait():
    port = _port_left_in_time_wait()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # without SO_REUSEADDR the port looks taken

    assert devstack._free_port(port) == port


def test_a_port_a_server_listens_on_is_not_offered():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]

        assert devstack._free_port(taken) != taken


@pytest.mark.slow
def test_a_dead_embedded_redis_stops_everything_with_one_line_and_leaves_no_zombie(tmp_path):
    require_slow_marker()
    child = subprocess.Popen(["sleep", "60"])
    try:
        with devstack.embedded_redis(tmp_path / "redis", persistent=False):
            pid = int((tmp_path / "redis" / "redis.pid").read_text())
            os.kill(pid, signal.SIGKILL)

            started = time.monotonic()
            problem = devstack.supervise([child], set())

            assert problem is not None and "embedded Redis died" in problem and "\n" not in problem
            assert time.monotonic() - started < 5
            assert not Path(f"/proc/{pid}").exists()  # reaped, not a zombie
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_a_child_that_exits_stops_everything_naming_it():
    require_slow_marker()
    child = subprocess.Popen(["sleep", "0.1"])

    problem = devstack.supervise([child], set())

    assert problem is not None and "sleep 0.1 exited with 0" in problem


@pytest.mark.slow
def test_an_exited_process_not_yet_reaped_counts_as_dead():
    require_slow_marker()
    child = subprocess.Popen(["true"])
    wait_until(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", timeout=5)

    assert not devstack._pid_alive(child.pid)
    child.wait()


def test_the_sandbox_provider_never_takes_the_web_servers_port():
    assert devstack._sandbox_port(devstack.SANDBOX_PORT) != devstack.SANDBOX_PORT


def test_pgbouncer_reaches_the_embedded_postgresql_through_its_socket_directory():
    upstream = devstack.Upstream.from_url("postgresql://postgres@/ops_console?host=/srv/.data/test/postgres")

    assert (upstream.host, upstream.port, upstream.user, upstream.password) == (
        "/srv/.data/test/postgres",
        5432,
        "postgres",
        "",
    )


def test_pgbouncer_reaches_a_named_postgresql_with_its_password():
    upstream = devstack.Upstream.from_url("postgres://ops:p%40ss@db.internal:5433/ops_console")

    ini = devstack.pgbouncer_ini(upstream=upstream, directory=Path("/run/pgb"), port=6432, test_database="t")

    assert "* = host=db.internal port=5433 password=p@ss" in ini
    assert "ops_console_single = host=db.internal port=5433 password=p@ss dbname=t pool_size=1" in ini
    assert "pool_mode = transaction" in ini and "listen_addr =\n" in ini


def test_the_pgbouncer_suite_says_it_did_not_run_when_pgbouncer_cannot_be_had(monkeypatch, capsys):
    monkeypatch.setattr(devstack, "ensure_pgbouncer", lambda: None)

    returned = devstack.command_test_pgbouncer(argparse.Namespace(pytest_args=[]))

    assert returned == 1
    assert "the PgBouncer suite did NOT run" in capsys.readouterr().out


# Where the browser tests and the scaled-out cluster start their workers: left out of the RabbitMQ suite.
NOT_ON_RABBITMQ = ("tests/e2e/", "tests/cluster/")
STARTS_WORKERS = re.compile(r"\b(start_worker|start_relay|start_beat|isolated_broker)\b")


def _in_rabbitmq_suite(path: str) -> bool:
    return any(path == entry or path.startswith(f"{entry}/") for entry in devstack.RABBITMQ_SUITE)


def test_the_rabbitmq_suite_holds_every_test_that_starts_a_worker_relay_or_beat_or_uses_the_broker():
    root = Path(devstack.ROOT)
    broker_facing = {
        str(path.relative_to(root))
        for path in (root / "tests").rglob("test_*.py")
        if path != Path(__file__).resolve() and STARTS_WORKERS.search(path.read_text())
    }

    missing = sorted(p for p in broker_facing if not p.startswith(NOT_ON_RABBITMQ) and not _in_rabbitmq_suite(p))

    assert "tests/workers/test_crashes.py" in broker_facing
    assert missing == []


def test_the_rabbitmq_suite_runs_the_whole_worker_outbox_and_pipeline_suites():
    assert {"tests/workers", "tests/outbox", "tests/pipeline"} <= set(devstack.RABBITMQ_SUITE)
    assert all(Path(devstack.ROOT, entry).exists() for entry in devstack.RABBITMQ_SUITE)
