"""Memory of each Procfile process type, started as production starts it: the sizing table's numbers.

    make bench ARGS="processes [--requests 2000] [--settle 20]"

Starts web, worker (WORKER_CONCURRENCY 2), beat and relay through `scripts/procfile.py`
(DEBUG off, JSON logs) against the bench profile's PostgreSQL and Redis, waits for `/ready`,
lets every process settle (telemetry has published, beat has sent its first tasks), then
sends `--requests` GETs to `/health` and `/ready` over keep-alive connections, and reads each
process's memory from /proc: RSS, and PSS (shared pages split between the processes sharing
them), for the worker's main process and each pool child. Idle WebSocket memory is
bench/websockets.py's (29.7 KiB a socket).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from scripts import procfile  # noqa: E402

KINDS = ("web", "worker", "beat", "relay")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from /proc/<pid>/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0])
    return values["Rss"], values["Pss"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _get(port: int, path: str, timeout: float = 5.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def _exercise(port: int, requests: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for number in range(requests):
            connection.request("GET", "/ready" if number % 10 == 0 else "/health", headers={"Host": "localhost"})
            connection.getresponse().read()
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds between /ready and the reading")
    options = parser.parse_args()
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PAYMENT_WEBHOOK_SECRET": "bench-" + secrets.token_hex(8),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKER_CONCURRENCY": "2",
        "BEAT_SCHEDULE": str(ROOT / ".data" / "bench" / f"celerybeat-schedule-{os.getpid()}"),
        "CELERY_BROKER_KEY_PREFIX": f"bench-processes-{os.getpid()}:",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    started = {
        kind: subprocess.Popen(procfile.argv(kind, env), cwd=ROOT, env={**env, "OPS_PROCESS_KIND": kind})
        for kind in KINDS
    }
    try:
        deadline = time.monotonic() + 90
        while _get(port, "/ready") != 200:
            if time.monotonic() > deadline or any(process.poll() is not None for process in started.values()):
                print("the web process never became ready, or a process exited", file=sys.stderr)
                return 1
            time.sleep(0.5)
        time.sleep(options.settle)
        _exercise(port, options.requests)
        time.sleep(2)
        print(f"| Process | RSS MiB | PSS MiB |  (after {options.requests} GETs to the web process)")
        print("|---|---|---|")
        for kind, process in started.items():
            pids = [(kind, process.pid)] + [(f"{kind} pool child", child) for child in _children(process.pid)]
            for label, pid in pids:
                rss, pss = _memory_kib(pid)
                print(f"| {label} | {rss / 1024:.1f} | {pss / 1024:.1f} |")
    finally:
        for process in started.values():
            process.send_signal(signal.SIGTERM)
        for process in started.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
