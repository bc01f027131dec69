"""Instances that die: a killed web instance's clients move to the other through the proxy and its sockets leave the
counts; a SIGTERM during steady traffic fails no request; a killed worker loses and doubles no pipeline."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from apps.pipeline.services import pipeline_start_for_payment
from apps.realtime.selectors import realtime_connection_stats
from tests.factories import PaymentFactory, StaffUserFactory, UserFactory
from tests.support.cluster import CLUSTER_TIMING_ENV, SERVED_BY, connect_until_accepted, served_by
from tests.support.pipelines import (
    assert_every_pipeline_ran_once,
    course_for_pipelines,
    pipelines_complete,
    wait_for_every_pipeline_resuming_once_on_redis,
)
from tests.support.realtime import close_code_of, open_socket, session_cookie
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(240)]

TTL = float(CLUSTER_TIMING_ENV["WS_TRACKING_TTL"])
USERS = 4  # one socket each, spread over both instances


def _tracked_connections() -> list[int]:
    """Connections per live instance, from the realtime tracking keys in Redis."""
    return [instance["connections"] for instance in realtime_connection_stats(cluster="fresh")["cluster"]["instances"]]


def _console_web_instances(cluster, cookie: str) -> list[dict]:
    """The web instances the console's realtime page lists (its JSON twin), read through the proxy."""
    response = requests.get(f"{cluster.url}/api/ops/realtime", headers={"Cookie": cookie}, timeout=10)
    response.raise_for_status()
    return response.json()["instances"]


async def _closed(socket, timeout: float) -> bool:
    try:
        await asyncio.wait_for(socket.wait_closed(), timeout)
    except TimeoutError:
        return False
    return True


def test_a_killed_instance_leaves_the_counts_and_its_clients_reconnect_to_the_other(cluster):
    cookies = [session_cookie(UserFactory()) for _ in range(USERS)]
    staff = session_cookie(StaffUserFactory())
    victim = cluster.web_named("web1")

    async def scenario():
        sockets = [await connect_until_accepted(cluster.front, cookie) for cookie in cookies]
        placed = [served_by(socket) for socket in sockets]
        per_instance = sorted(Counter(placed).values())
        before = await asyncio.to_thread(
            wait_until,
            lambda: sorted(_tracked_connections()) == per_instance,
            timeout=15,
            what="a heartbeat on each instance",
        )
        victim.process.kill()
        killed_at = time.monotonic()
        await asyncio.to_thread(
            wait_until, lambda: len(_tracked_connections()) == 1, timeout=TTL + 3, what="the killed instance to expire"
        )
        expired_after = time.monotonic() - killed_at
        orphans = [i for i, name in enumerate(placed) if name == victim.name]
        dropped = [await _closed(sockets[i], timeout=5) for i in orphans]
        moved = [await connect_until_accepted(cluster.front, cookies[i]) for i in orphans]
        await asyncio.to_thread(
            wait_until, lambda: _tracked_connections() == [USERS], timeout=15, what="the moved sockets to count"
        )
        listed = await asyncio.to_thread(
            wait_until,
            lambda: [row["connections"] for row in _console_web_instances(cluster, staff)] == [USERS],
            timeout=15,
            interval=0.5,  # within the API rate limit
            what="the console to list one web instance",
        )
        for socket in [*sockets, *moved]:
            await socket.close()
        return placed, before, dropped, [served_by(socket) for socket in moved], expired_after, listed

    placed, before, dropped, moved_to, expired_after, listed = asyncio.run(scenario())

    assert set(placed) == {"web1", "web2"}
    assert before
    assert dropped == [True] * placed.count("web1")
    assert moved_to == ["web2"] * placed.count("web1")
    assert expired_after <= TTL + 3  # its last heartbeat's TTL, and a loaded machine's delay
    assert listed


@dataclass
class SteadyTraffic:
    """Client threads sending GETs through the proxy back to back, each on its own keep-alive session."""

    url: str
    cookie: str
    threads: int = 4
    paths: tuple[str, ...] = ("/health", "/ops/instance")
    answers: list[tuple[float, int, str]] = field(default_factory=list)  # (when, status, served by)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]

    def __enter__(self) -> SteadyTraffic:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=15)

    def _run(self) -> None:
        with requests.Session() as session:
            session.headers["Cookie"] = self.cookie
            while not self._stop.is_set():
                for path in self.paths:
                    try:
                        response = session.get(f"{self.url}{path}", timeout=10)
                    except requests.RequestException as exc:
                        self.failures.append(f"{path}: {type(exc).__name__}")
                        continue
                    self.answers.append((time.monotonic(), response.status_code, response.headers.get(SERVED_BY, "")))
                    if response.status_code != 200:
                        self.failures.append(f"{path}: {response.status_code}")

    def served_after(self, moment: float) -> set[str]:
        return {name for when, _, name in self.answers if when > moment}


def test_sigterm_during_steady_traffic_fails_no_request_and_its_sockets_close_1001_and_move(cluster):
    cookies = [session_cookie(UserFactory()) for _ in range(USERS)]
    victim = cluster.web_named("web1")
    traffic = SteadyTraffic(cluster.url, session_cookie(StaffUserFactory()))

    async def scenario():
        sockets = [await open_socket(cluster.front, cookie) for cookie in cookies]
        orphans = [i for i, socket in enumerate(sockets) if served_by(socket) == victim.name]
        with traffic:
            await asyncio.sleep(2)
            victim.process.send_signal(signal.SIGTERM)
            codes = await asyncio.gather(*(close_code_of(sockets[i], timeout=10) for i in orphans))
            moved = [await connect_until_accepted(cluster.front, cookies[i]) for i in orphans]
            exit_code = await asyncio.to_thread(victim.process.wait, 30)
            exited_at = time.monotonic()
            await asyncio.sleep(2)  # and the survivor carries the traffic
        for socket in [*sockets, *moved]:
            await socket.close()
        return orphans, codes, [served_by(socket) for socket in moved], exit_code, exited_at

    orphans, codes, moved_to, exit_code, exited_at = asyncio.run(scenario())

    assert traffic.failures == []
    assert len(traffic.answers) > 100
    assert {name for _, _, name in traffic.answers} == {"web1", "web2"}
    assert traffic.served_after(exited_at) == {"web2"}
    assert len(orphans) == 2
    assert codes == [1001, 1001]
    assert moved_to == ["web2", "web2"]
    assert exit_code in (0, -signal.SIGTERM)


RUNS = 500
SESSIONS = 2


def _complete() -> int:
    return pipelines_complete(sessions=SESSIONS)


def test_a_worker_killed_during_500_pipelines_on_two_workers_loses_and_doubles_nothing(cluster):
    course = course_for_pipelines(runs=RUNS, sessions=SESSIONS)
    payments = PaymentFactory.create_batch(RUNS, course=course)
    started = time.monotonic()
    for payment in payments:
        pipeline_start_for_payment(payment_id=payment.id)

    wait_until(lambda: _complete() >= RUNS // 4, timeout=90, interval=0.05, what=f"{RUNS // 4} pipelines")
    cluster.workers[0].kill()  # SIGKILL to its process group: the pool children die with it
    killed_at = _complete()
    cluster.worker_start(0)  # as a supervisor would; its unacknowledged messages come back to either worker
    resumed = wait_for_every_pipeline_resuming_once_on_redis(runs=RUNS, sessions=SESSIONS, timeout=120)
    elapsed = time.monotonic() - started

    assert killed_at < RUNS
    assert resumed <= 1  # the kill loses at most the one message it caught between BRPOP and unacked
    assert_every_pipeline_ran_once(payments, sessions=SESSIONS)
    print(f"{RUNS} pipelines on {len(cluster.workers)} workers, one killed, in {elapsed:.1f}s; resumed: {resumed}")
