"""Per-user WebSocket events at 10, 100 and 1000 connections, against broadcast-and-filter.

    make bench ARGS=websockets
    make bench ARGS="websockets --events 300 --rate 100 --burst 3000 --servers uvicorn/websockets-sansio"

For each design (per-user groups: production routing; broadcast-and-filter:
bench/ws_broadcast_app.py) one uvicorn process is started with `make run`'s
flags (the Procfile's web command), DEBUG off. A client process
(`websockets` asyncio clients, one signed-in user per socket) grows to 10, 100,
then 1000 sockets; at each step this process sends per-user events through
`apps.realtime.services.publish_event`:
- latency: `--events` events paced at `--rate`/s to random connected users,
  p50/p99 from publish to the client's receive (CLOCK_MONOTONIC is system-wide);
- throughput: `--burst` events from `--publishers` threads as fast as they go,
  delivered events/s measured at the clients.
Idle: a fresh production server per `--idle-ws` implementation, never sent an
event: RSS growth per connection (10 → 1000) and its CPU over `--idle-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ would come first on sys.path and shadow the `websockets` library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
# Production settings: DEBUG off, plain HTTP on localhost, no per-connection log lines.
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
os.environ.setdefault("PAYMENT_WEBHOOK_SECRET", "bench-webhook-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")

STEPS = (10, 100, 1000)
# ASGI servers compared; the first is production (the Procfile's web command).
SERVERS = ("uvicorn/websockets-sansio", "uvicorn/websockets", "daphne")
PRODUCTION = SERVERS[0]
DESIGNS = {"per-user groups": "ops_console.asgi:application", "broadcast+filter": "bench.ws_broadcast_app:application"}


# --- Client process: holds the sockets, timestamps every event ----------------


def client_main(cookies_path: str, port: int) -> None:
    """Commands on stdin: `grow N`, `collect`, `quit`; one JSON line answers each."""
    from websockets.asyncio.client import connect

    cookies = json.loads(Path(cookies_path).read_text())
    latencies: list[float] = []
    received = [0, 0.0, 0.0]  # count, first and last receive time
    sockets: list[object] = []
    readers: list[asyncio.Task[None]] = []

    async def reader(ws: object) -> None:
        async for text in ws:
            now = time.monotonic()
            latencies.append(now - json.loads(text)["data"]["sent_at"])
            received[0] += 1
            received[1] = received[1] or now
            received[2] = now

    async def open_one(cookie: str, gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                ws = await connect(
                    f"ws://127.0.0.1:{port}/ws/events/",
                    origin=f"http://127.0.0.1:{port}",
                    additional_headers={"Cookie": cookie},
                    open_timeout=30,
                    ping_interval=None,
                )
            except Exception:  # refused, timed out: counted by the caller
                return False
        sockets.append(ws)
        readers.append(asyncio.ensure_future(reader(ws)))
        return True

    async def main() -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "grow":
                gate = asyncio.Semaphore(20)
                wanted = cookies[len(sockets) : int(line[1])]
                opened = await asyncio.gather(*(open_one(c, gate) for c in wanted))
                await asyncio.sleep(0.5)  # a socket refused after accept closes now
                alive = sum(1 for ws in sockets if ws.close_code is None)
                answer = {"sockets": alive, "failed": opened.count(False)}
            else:  # collect
                answer = {"latencies": latencies[:], "received": received[:]}
                latencies.clear()
                received[:] = [0, 0.0, 0.0]
            print(json.dumps(answer), flush=True)

    asyncio.run(main())


# --- Bench process: server, users, publisher ----------------------------------


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def signed_in_cookies(count: int) -> tuple[list[str], list[int]]:
    """`count` users, each with a session as a browser login leaves it (SESSION_ENGINE: PostgreSQL and Redis)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

    user_model = get_user_model()
    user_model.objects.filter(username__startswith="bench-ws-").delete()
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench-ws-{i}", password="!") for i in range(count)]  # noqa: S106 (unusable)
    )
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"sessionid={session.session_key}")
    return cookies, [user.pk for user in users]


def server_command(server: str, app: str, port: int) -> list[str]:
    """`uvicorn/<ws implementation>` with the production flags, or daphne with the same ping bounds."""
    from scripts import procfile

    if server == "daphne":
        return [
            sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
            "--ping-interval", "20", "--ping-timeout", "20", app,
        ]  # fmt: skip
    ws = server.removeprefix("uvicorn/")
    argv = procfile.argv("web", {"HOST": "127.0.0.1", "PORT": str(port)})
    argv[argv.index("ops_console.asgi:application")] = app
    return [*argv, "--no-access-log", "--ws", ws]


@contextlib.contextmanager
def serving(app: str, server: str = PRODUCTION) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    import requests

    from scripts.devstack import _free_port

    port = _free_port(0)
    process = subprocess.Popen(
        server_command(server, app, port),
        cwd=ROOT,
        env={
            **os.environ,
            "OPS_PROCESS_KIND": "web",
            "WS_MAX_CONNECTIONS_PER_INSTANCE": "1000",
            "WS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",  # the origin the clients send
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{server} {app} did not start") from None
                time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Client:
    def __init__(self, cookies_path: str, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--client", cookies_path, str(port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait(timeout=30)


def publish(user_id: int, *, broadcast: bool) -> None:
    from apps.realtime.services import publish_event

    data = {"user_id": user_id, "sent_at": time.monotonic()}
    if broadcast:
        publish_event(event_type="bench.tick", object_id=0, data=data, groups=["bench.all"])
    else:
        publish_event(event_type="bench.tick", object_id=0, data=data, user_ids=[user_id])


def wait_for(client: Client, expected: int, timeout: float = 10) -> dict:
    """Collect until `expected` events have arrived (or `timeout`)."""
    total = {"latencies": [], "received": [0, 0.0, 0.0]}
    deadline = time.monotonic() + timeout
    while True:
        part = client.ask("collect")
        total["latencies"] += part["latencies"]
        count, first, last = part["received"]
        if count:
            total["received"][0] += count
            total["received"][1] = total["received"][1] or first
            total["received"][2] = last
        if total["received"][0] >= expected or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def measure(client: Client, user_ids: list[int], *, broadcast: bool, args: argparse.Namespace) -> dict:
    # Latency: paced, so it shows routing cost rather than queueing.
    for _ in range(args.events):
        publish(random.choice(user_ids), broadcast=broadcast)
        time.sleep(1 / args.rate)
    paced = wait_for(client, args.events)
    latencies = sorted(paced["latencies"])
    # Throughput: as fast as the publishers go.
    per_thread = args.burst // args.publishers
    targets = [random.choice(user_ids) for _ in range(per_thread * args.publishers)]

    def run(chunk: list[int]) -> None:
        for user_id in chunk:
            publish(user_id, broadcast=broadcast)

    threads = [
        threading.Thread(target=run, args=(targets[i * per_thread : (i + 1) * per_thread],))
        for i in range(args.publishers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published_s = time.monotonic() - started
    burst = wait_for(client, len(targets), timeout=15)
    count, _, last = burst["received"]
    return {
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
        "paced_lost": args.events - len(latencies),
        "delivered_per_s": count / max(last - started, 1e-9) if count else 0.0,
        "published_per_s": len(targets) / published_s,
        "burst_lost": len(targets) - count,
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_design(
    name: str, app: str, cookies_path: str, user_ids: list[int], args: argparse.Namespace, server: str = PRODUCTION
) -> dict:
    steps = {}
    with serving(app, server) as (port, _process):
        client = Client(cookies_path, port)
        try:
            for step in STEPS:
                grown = client.ask(f"grow {step}")
                if grown["sockets"] != step:
                    raise SystemExit(f"{name}: {grown['sockets']} of {step} sockets open ({grown['failed']} failed)")
                steps[step] = measure(client, user_ids[:step], broadcast=app != DESIGNS["per-user groups"], args=args)
                print(f"  {name:42} N={step:5}: {fmt(steps[step])}", flush=True)
        finally:
            client.close()
    return steps


def run_idle(server: str, cookies_path: str, args: argparse.Namespace) -> dict:
    """A fresh server, no events ever: RSS at 10 and 1000 sockets, then CPU while idle."""
    with serving(DESIGNS["per-user groups"], server) as (port, process):
        client = Client(cookies_path, port)
        try:
            client.ask(f"grow {STEPS[0]}")
            time.sleep(1)
            small = rss_kib(process.pid)
            grown = client.ask(f"grow {STEPS[-1]}")
            if grown["sockets"] != STEPS[-1]:
                raise SystemExit(f"{server}: {grown['sockets']} of {STEPS[-1]} sockets open")
            time.sleep(2)
            large = rss_kib(process.pid)
            before, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(args.idle_seconds)
            cpu = (cpu_seconds(process.pid) - before) / (time.monotonic() - started)
        finally:
            client.close()
    result = {"kib_per_connection": (large - small) / (STEPS[-1] - STEPS[0]), "idle_cpu": cpu, "rss_mib": large / 1024}
    print(
        f"  idle, {server:26}: {result['kib_per_connection']:.1f} KiB per connection "
        f"(RSS {result['rss_mib']:.0f} MiB at {STEPS[-1]}), CPU {100 * cpu:.1f} % of a core",
        flush=True,
    )
    return result


def fmt(step: dict) -> str:
    return (
        f"p50 {step['p50_ms']:6.2f} ms  p99 {step['p99_ms']:6.2f} ms  "
        f"delivered {step['delivered_per_s']:6.0f} ev/s (published {step['published_per_s']:5.0f}/s)  "
        f"lost {step['paced_lost']}+{step['burst_lost']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=150, help="paced events per step (latency)")
    parser.add_argument("--rate", type=float, default=100, help="paced events per second")
    parser.add_argument("--burst", type=int, default=600, help="events per step as fast as possible (throughput)")
    parser.add_argument("--publishers", type=int, default=2, help="publisher threads for the burst")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"servers to compare (first is timed against broadcast): {SERVERS}"
    )
    parser.add_argument(
        "--layers", default="pubsub,core", help="channel layers to time per-user events on (first: everything else)"
    )
    parser.add_argument("--idle-only", action="store_true", help="only the idle phase (memory and CPU)")
    args = parser.parse_args()
    layers = args.layers.split(",")
    os.environ["WS_CHANNEL_LAYER"] = layers[0]
    raise_nofile()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cookies, user_ids = signed_in_cookies(max(STEPS))
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as cookies_file:
        json.dump(cookies, cookies_file)
        cookies_file.flush()
        print(f"channel layers {layers}; {args.events} events at {args.rate:.0f}/s, bursts of {args.burst}")
        servers = args.servers.split(",")
        results = {}
        if not args.idle_only:
            for server in servers:
                name = f"per-user groups, {server}"
                results[name] = run_design(name, DESIGNS["per-user groups"], cookies_file.name, user_ids, args, server)
            for layer in layers[1:]:
                name = f"per-user groups, {servers[0]}, {layer} layer"
                with channel_layer(layer):
                    results[name] = run_design(
                        name, DESIGNS["per-user groups"], cookies_file.name, user_ids, args, servers[0]
                    )
            name = f"broadcast+filter, {servers[0]}"
            results[name] = run_design(name, DESIGNS["broadcast+filter"], cookies_file.name, user_ids, args, servers[0])
        idle = {server: run_idle(server, cookies_file.name, args) for server in servers}
    report(results, idle, servers[0])
    print(f"  total {time.monotonic() - started:.0f} s")


@contextlib.contextmanager
def channel_layer(kind: str) -> Iterator[None]:
    """Servers started inside, and publish_event in this process, use the `kind` layer."""
    from django.test import override_settings

    from ops_console.settings import channel_layers_for

    os.environ["WS_CHANNEL_LAYER"], previous = kind, os.environ["WS_CHANNEL_LAYER"]
    try:
        with override_settings(CHANNEL_LAYERS=channel_layers_for(kind)):
            yield
    finally:
        os.environ["WS_CHANNEL_LAYER"] = previous


def report(results: dict, idle: dict, production: str) -> None:
    def ratio(name: str, key: str) -> float:
        return results[name][STEPS[-1]][key] / results[name][STEPS[0]][key]

    print(f"summary ({production})")
    if results:
        per_user, broadcast = f"per-user groups, {production}", f"broadcast+filter, {production}"
        print(f"  per-user p50 ratio 1000/10        : {ratio(per_user, 'p50_ms'):.2f}  (target <= 1.5)")
        print(f"  per-user p99 ratio 1000/10        : {ratio(per_user, 'p99_ms'):.2f}")
        print(f"  broadcast+filter p50 ratio 1000/10: {ratio(broadcast, 'p50_ms'):.2f}")
    print(f"  memory per idle connection        : {idle[production]['kib_per_connection']:.1f} KiB  (target <= 32)")
    print(f"  idle CPU at 1000 connections      : {100 * idle[production]['idle_cpu']:.1f} % of a core  (target <= 5)")
    print("servers, relative to the first (same run)")
    base = idle[production]
    for server, numbers in idle.items():
        line = (
            f"  {server:26} memory/conn x{numbers['kib_per_connection'] / base['kib_per_connection']:.2f}"
            f"  idle CPU x{numbers['idle_cpu'] / max(base['idle_cpu'], 1e-9):.2f}"
        )
        name = f"per-user groups, {server}"
        if name in results:
            p50 = results[name][STEPS[-1]]["p50_ms"] / results[f"per-user groups, {production}"][STEPS[-1]]["p50_ms"]
            line += f"  p50 at {STEPS[-1]} x{p50:.2f}"
        print(line)
    layered = [name for name in results if name.endswith(" layer")]
    if layered:
        print(f"channel layers at {STEPS[-1]} sockets, relative to the first (same run, {production})")
        base_step = results[f"per-user groups, {production}"][STEPS[-1]]
        for name in layered:
            step = results[name][STEPS[-1]]
            print(
                f"  {name.rsplit(', ', 1)[1]:26} p50 x{step['p50_ms'] / base_step['p50_ms']:.2f}"
                f"  p99 x{step['p99_ms'] / base_step['p99_ms']:.2f}"
                f"  delivered ev/s x{step['delivered_per_s'] / base_step['delivered_per_s']:.2f}"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        client_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
