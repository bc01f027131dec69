"""Child processes of the test session: one launcher, each process's output in a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent

# Servers started by this test session count their rate limits apart from other sessions'.
SESSION_RATE_LIMIT_PREFIX = f"test-{os.getpid()}:rl"

# Set by tests.support.markers while a test runs: (node id, marked slow?).
running_test: tuple[str, bool] | None = None


def require_slow_marker() -> None:
    """Fail a test that starts a process but is not marked `slow` (`-m 'not slow'` would run it)."""
    if running_test is not None and not running_test[1]:
        raise AssertionError(f"{running_test[0]} starts a process: mark it @pytest.mark.slow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_database_url() -> str:
    """DATABASE_URL of the database this test session uses, for child processes."""
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    host = params["HOST"]
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{params['NAME']}?host={host}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{params['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a console process on this session's database and rate-limit keys."""
    env = {**os.environ, "DATABASE_URL": session_database_url(), "RATE_LIMIT_KEY_PREFIX": SESSION_RATE_LIMIT_PREFIX}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser tests' relaxation is theirs alone (tests/e2e)
    env.update(overrides)
    return env


def run_manage(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`manage.py args` to completion, its output captured."""
    require_slow_marker()
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env if env is not None else child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Process:
    """A child process whose stdout and stderr go to `log_path`.

    With `own_group`, signals reach its whole process group (a celery worker's pool children too).
    """

    def __init__(self, argv: Sequence[str], *, log_path: Path, env: dict[str, str], own_group: bool = False) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.own_group = own_group
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def start(self) -> Process:
        require_slow_marker()
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_group,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send_signal(self, sig: int) -> None:
        assert self.popen is not None, "not started"
        if self.own_group:
            os.killpg(self.popen.pid, sig)
        else:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.popen is not None, "not started"
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing acknowledged or cleaned up."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):  # a group whose every member has exited
            self.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds."""
        if not self.alive():
            return
        self.send_signal(signal.SIGTERM)
        try:
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def launch(argv: Sequence[str], *, log_path: Path, env: dict[str, str], own_group: bool = False) -> Process:
    """Start `argv` in the project root; its output goes to `log_path`."""
    return Process(argv, log_path=log_path, env=env, own_group=own_group).start()
