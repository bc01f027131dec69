"""Several web instances behind HAProxy on loopback: what `make cluster` and tests/cluster start.

    haproxy = ensure_haproxy()                         # Debian's haproxy, installed when missing and root
    config = haproxy_config(port=8000, stats_port=8404, backends=[Backend("web1", 8001), Backend("web2", 8002)])
    argv = haproxy_argv(haproxy, config_path)          # our own haproxy process, in the foreground
    env = web_instance_env(base_env, port=8001, proxy_origin="http://127.0.0.1:8000")

Imports nothing of Django, so scripts/devstack.py can use it before settings load.
docs/cluster.md explains every line of the proxy's configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scripts import debian

HAPROXY = Path("/usr/sbin/haproxy")
STATS_PATH = "/stats"
STATS_TIMEOUT_S = 2.0


MISSING = (
    "HAProxy is missing and cannot be installed here (needs root and apt-get; or HAPROXY_PATH names no file): "
    "run `apt-get install -y haproxy`, or set HAPROXY_PATH"
)


class HaproxyMissing(RuntimeError):
    """HAProxy is not installed and could not be installed here."""


def haproxy_path() -> Path | None:
    """HAProxy's binary: HAPROXY_PATH, Debian's, or one on PATH; None when there is none."""
    given = os.environ.get("HAPROXY_PATH")
    if given:
        return Path(given) if Path(given).is_file() else None
    if HAPROXY.exists():
        return HAPROXY
    found = shutil.which("haproxy")
    return Path(found) if found else None


def ensure_haproxy(say: Callable[[str], None] | None = print) -> Path | None:
    """Debian's haproxy, installed when missing and we may (root, apt-get); None when it is still missing.

    Debian's own service is never started: only our processes, with our configuration, run it.
    """
    found = haproxy_path()
    if found is not None or os.environ.get("HAPROXY_PATH"):  # a binary named but missing is not installed over
        return found
    if not debian.can_install():
        return None
    if say is not None:
        say("installing HAProxy for the cluster (apt-get install -y haproxy)")
    debian.install("haproxy", recommends=False)
    return haproxy_path()


def require_haproxy() -> Path:
    """haproxy's path, or HaproxyMissing with one line saying how to get it."""
    found = ensure_haproxy(say=None)
    if found is None:
        raise HaproxyMissing(MISSING)
    return found


@dataclass(frozen=True)
class Backend:
    name: str
    port: int


@dataclass(frozen=True)
class Timing:
    """How fast HAProxy notices an instance going and coming back (its health checks on /ready)."""

    check_interval_ms: int = 1000
    fall: int = 2  # failed checks before an instance is taken out
    rise: int = 2  # passed checks before it is put back
    check_timeout_ms: int = 3000  # /ready bounds each of its checks by HEALTH_CHECK_TIMEOUT (2 s)


def haproxy_config(*, port: int, stats_port: int, backends: list[Backend], timing: Timing = Timing()) -> str:
    """The proxy's configuration: one HTTP frontend on 127.0.0.1:`port`, the web instances behind it.

    docs/cluster.md says why each setting is what it is.
    """
    servers = "\n".join(
        f"    server {backend.name} 127.0.0.1:{backend.port} check inter {timing.check_interval_ms}ms "
        f"fall {timing.fall} rise {timing.rise}"
        for backend in backends
    )
    return f"""\
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 2s
    timeout client 60s
    timeout server 35s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    timeout tunnel 60s
    timeout client-fin 5s
    timeout server-fin 5s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend web
    bind 127.0.0.1:{port}
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Proto http
    http-response set-header X-Served-By %s
    default_backend web

backend web
    balance leastconn
    http-request disable-l7-retry if !METH_GET !METH_HEAD
    option httpchk
    http-check send meth GET uri /ready ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    timeout check {timing.check_timeout_ms}ms
{servers}

frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri {STATS_PATH}
    stats refresh 5s
"""


def haproxy_argv(haproxy: Path, config: Path) -> list[str]:
    """haproxy in the foreground (-db): its parent supervises it, and its log goes to the parent's file."""
    return [str(haproxy), "-db", "-f", str(config)]


def haproxy_check(haproxy: Path, config: Path) -> None:
    """Fail with haproxy's own message when the configuration is invalid."""
    checked = subprocess.run([str(haproxy), "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"haproxy rejected {config}:\n{checked.stdout}{checked.stderr}")


def backend_states(stats_port: int) -> dict[str, str]:
    """Each web instance's state as HAProxy sees it (UP, DOWN, "UP 1/2"...), from its stats CSV. Talks HTTP."""
    url = f"http://127.0.0.1:{stats_port}{STATS_PATH};csv"
    with urllib.request.urlopen(url, timeout=STATS_TIMEOUT_S) as response:
        lines = response.read().decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == "web" and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def web_instance_env(base: Mapping[str, str], *, port: int, proxy_origin: str) -> dict[str, str]:
    """The environment of one web instance behind the proxy.

    Its own port and identity; the proxy's origin may open WebSockets (beside the
    instance's own, for a direct check), and X-Forwarded-For from the proxy is
    believed, so rate limits count the client, not HAProxy.
    """
    own = f"http://127.0.0.1:{port}"
    origins = [origin for origin in base.get("WS_ALLOWED_ORIGINS", "").split(",") if origin]
    return {
        **base,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "OPS_PROCESS_KIND": "web",
        "WS_ALLOWED_ORIGINS": ",".join(dict.fromkeys([*origins, proxy_origin, own])),
        "TRUSTED_PROXIES": "127.0.0.1",
    }
