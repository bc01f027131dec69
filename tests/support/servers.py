"""uvicorn serving the console as a real process, and a server that never answers."""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from scripts.devstack import UVICORN_WS_FLAGS  # the flags `make run` starts uvicorn with
from tests.support.processes import Process, child_env, free_port, launch
from tests.support.waiting import wait_until


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


def uvicorn(log_path: Path, *, port: int, flags: Sequence[str] = (), **env: str) -> Process:
    """Start uvicorn serving ops_console.asgi on `port` with production's flags; `flags` override."""
    argv = [
        sys.executable, "-m", "uvicorn", "ops_console.asgi:application", "--port", str(port), "--no-access-log",
        *UVICORN_WS_FLAGS, *flags,
    ]  # fmt: skip
    return launch(argv, log_path=log_path, env=child_env(**{"OPS_PROCESS_KIND": "web", **env}))


def wait_until_serving(process: Process, base: str, *, timeout: float = 30) -> None:
    """Poll /health until the server answers; fail with its output if it dies or never does. Talks HTTP."""
    import requests

    def answers() -> bool:
        if not process.alive():
            raise RuntimeError(f"server exited before serving:\n{process.log()}")
        try:
            requests.get(f"{base}/health", timeout=1)
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its first answer is slow
            return False
        return True

    try:
        wait_until(answers, timeout=timeout, what=f"{base}/health")
    except AssertionError:
        raise RuntimeError(f"server did not start:\n{process.log()}") from None


@contextmanager
def log_file(log_path: Path | None, name: str) -> Iterator[Path]:
    """`log_path`, or a temporary file removed afterwards."""
    with ExitStack() as stack:
        yield log_path or Path(stack.enter_context(tempfile.TemporaryDirectory())) / name


@contextmanager
def asgi_server(log_path: Path | None = None, *, port: int | None = None, **env: str) -> Iterator[str]:
    """uvicorn on `port` (default: a free one), stopped after the block; yields its base URL.

    With log_path, everything the server prints is kept there.
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with log_file(log_path, "uvicorn.log") as path:
        server = uvicorn(path, port=port, **env)
        try:
            wait_until_serving(server, base)
            yield base
        finally:
            server.stop()
