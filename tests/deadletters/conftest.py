from tests.workers.conftest import isolated_broker  # noqa: F401  (replays publish under a per-test prefix)
