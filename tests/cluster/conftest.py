"""One cluster for the directory (tests/support/cluster.py); every test starts with all of it up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.support.cluster import CLUSTER_LIMITS_ENV, Cluster, running_cluster


@pytest.fixture(scope="package")
def cluster(tmp_path_factory, django_db_setup, django_db_blocker) -> Iterator[Cluster]:
    """Started once for tests/cluster: starting one takes 15-40 s on a busy 2-core machine."""
    log_dir = tmp_path_factory.mktemp("cluster")
    with ExitStack() as stack:
        with django_db_blocker.unblock():  # the workers' start and stop read pg_stat_activity
            running = stack.enter_context(running_cluster(log_dir, **CLUSTER_LIMITS_ENV))
        yield running
        with django_db_blocker.unblock():
            stack.close()


@pytest.fixture(autouse=True)
def cluster_settings(cluster, settings, isolated_rate_limits, isolated_breakers, isolated_telemetry) -> None:
    """This process reads and publishes under the cluster's namespaces (after the per-test ones are set)."""
    cluster.settings_for_this_process(settings)


@pytest.fixture(autouse=True)
def whole_cluster(cluster) -> Cluster:
    """A test that killed a web instance or a worker leaves it to the next test to start it again."""
    for index, instance in enumerate(cluster.web):
        if not instance.alive():
            cluster.web_restart(index)
    for index, worker in enumerate(cluster.workers):
        if not worker.alive():
            cluster.worker_start(index)
    cluster.wait_until_all_up()
    return cluster
