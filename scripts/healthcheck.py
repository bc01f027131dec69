"""The image's HEALTHCHECK: exit 0 when this container's web process answers 200 on /health.

    python -m scripts.healthcheck      # GET http://127.0.0.1:$PORT/health, 3 s at most

/health calls no dependency (docs/deployment.md), so a failing check means this process, not
PostgreSQL or Redis. It answers whatever Host the request names (apps/health/middleware.py).
"""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT = 3.0


def healthy(port: int, *, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> bool:
    """True when GET /health answers 200 within `timeout` seconds (network: one request)."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def main() -> int:
    return 0 if healthy(int(os.environ.get("PORT") or 8000)) else 1


if __name__ == "__main__":
    sys.exit(main())
