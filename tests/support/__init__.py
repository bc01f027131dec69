"""The tests' own support code: processes, waiting, proxies, fixtures and helpers.

processes  one launcher (`launch()` -> `Process`) for every child process, and the env they get
waiting    `wait_until`, the one poll loop
servers    uvicorn (`asgi_server`), and a TCP server that never answers
workers    celery workers, beat and outbox relays on the test's own broker keys (fixtures)
provider   the sandbox payment provider as a real process (fixture)
realtime   uvicorn as production runs it, and WebSocket clients (fixture)
cluster    HAProxy in front of two web instances, two workers, beat and the relay (tests/cluster)
proxies    TCP fronts for Redis and PostgreSQL that a test can cut, slow or freeze
markers    fails a test that starts a process without the `slow` marker
seeded, plans, admin, logs: query-plan data, EXPLAIN readers, admin steps, captured log events
"""
