"""Real local servers and processes for tests: silent sockets, the ASGI app, manage.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from scripts.devstack import UVICORN_WS_FLAGS  # the flags `make run` starts uvicorn with

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def silent_tcp_server() -> Iterator[int]:
    """A server that accepts connections and never answers: a hung Redis or provider."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_database_url() -> str:
    """DATABASE_URL of the database this test session uses, for child processes."""
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = params["HOST"]
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{params['NAME']}?host={host}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['NAME']}"


# Servers started by this test session count their rate limits apart from other sessions'.
SESSION_RATE_LIMIT_PREFIX = f"test-{os.getpid()}:rl"


def child_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "RATE_LIMIT_KEY_PREFIX": SESSION_RATE_LIMIT_PREFIX}
    env.update(overrides)
    return env


def run_manage(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env if env is not None else child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_until_serving(process: subprocess.Popen[bytes], base: str, *, timeout: float = 30) -> None:
    """Poll /health until the server answers; fail with its output if it dies or never does."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"{base}/health", timeout=1)
            return
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                printed = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"ASGI server did not start:\n{printed}") from None
            time.sleep(0.1)


@contextmanager
def asgi_server(log_path: Path | None = None, *, port: int | None = None, **env_overrides: str) -> Iterator[str]:
    """uvicorn serving ops_console.asgi on `port` (default: a free one); yields its base URL.

    With log_path, everything the server prints is written there.
    """

    port = port or free_port()
    output = open(log_path, "wb") if log_path else subprocess.PIPE  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "ops_console.asgi:application",
            "--port",
            str(port),
            "--no-access-log",
            *UVICORN_WS_FLAGS,
        ],
        cwd=ROOT,
        env=child_env(OPS_PROCESS_KIND="web", **env_overrides),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log_path:
            output.close()
