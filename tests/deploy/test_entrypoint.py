"""The image's entrypoint and HEALTHCHECK, run as the container runs them but without a container engine."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from scripts.healthcheck import healthy
from tests.support.processes import child_env, free_port, launch
from tests.support.servers import wait_until_serving

pytestmark = pytest.mark.slow


def test_the_entrypoint_becomes_the_web_server_which_passes_the_health_check_and_drains_on_sigterm(tmp_path):
    port = free_port()
    entrypoint = [sys.executable, "-m", "scripts.procfile", "run", "web"]  # the Dockerfile's ENTRYPOINT + CMD
    # ALLOWED_HOSTS names the public host only, as in production: the health check names the container's address.
    env = child_env(HOST="127.0.0.1", PORT=str(port), ALLOWED_HOSTS="ops.example.com")
    server = launch(entrypoint, log_path=tmp_path / "web.log", env=env)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}")
        # exec, not a child: the process the container engine started is uvicorn itself.
        assert b"uvicorn" in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert healthy(port) is True
        server.send_signal(signal.SIGTERM)
        # uvicorn drains, shuts down, then re-raises the signal: the exit status says SIGTERM (143 in a container).
        assert server.wait(timeout=30) in (0, -signal.SIGTERM), server.log()
        assert "ws_drain_finished" in server.log() and "Application shutdown complete" in server.log()
        assert healthy(port, timeout=1.0) is False
    finally:
        server.stop()
