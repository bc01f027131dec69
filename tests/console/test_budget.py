from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from apps.console.budget import Plan, budget_summary, pgbouncer_plan_check, plan_check


def test_the_headroom_is_said_in_web_processes():
    summary = budget_summary(pool_max_sum=40, max_connections=100, reserved=3, web_pool_max=10)

    assert (summary["headroom"], summary["room_for_web"]) == (57, 5)
    assert summary["words"] == "room for 5 more web processes (57 connections left)"


def test_a_budget_over_the_limit_says_by_how_much():
    summary = budget_summary(pool_max_sum=110, max_connections=100, reserved=3, web_pool_max=10)

    assert summary["fits"] is False and summary["words"].startswith("over budget by 13 connections")


def test_an_unknown_part_makes_the_budget_unknown_not_zero():
    assert budget_summary(pool_max_sum=None, max_connections=100, reserved=3, web_pool_max=10)["fits"] is None


def test_a_plan_counts_each_celery_pool_process():
    plan = Plan(web=4, workers=2, concurrency=4, web_pool_max=10, worker_pool_max=5)

    assert plan.pool_max_sum() == 4 * 10 + 2 * 4 * 5 + 10 + 10


def test_the_command_passes_a_plan_that_fits(capsys):
    call_command("connection_budget", "--web", "2", "--workers", "1", "--concurrency", "2",
                 "--max-connections", "100", "--reserved", "3")  # fmt: skip

    assert "room for" in capsys.readouterr().out


def test_the_command_fails_a_plan_that_does_not_fit():
    with pytest.raises(CommandError, match="does not fit"):
        call_command("connection_budget", "--web", "8", "--workers", "4", "--concurrency", "4",
                     "--max-connections", "100", "--reserved", "3")  # fmt: skip


@pytest.mark.django_db
def test_the_command_reads_the_servers_limits_when_not_given(capsys):
    call_command("connection_budget", "--web", "1", "--workers", "1", "--concurrency", "1")

    assert "max_connections 300" in capsys.readouterr().out


def test_plan_check_lists_each_kinds_share():
    result = plan_check(
        plan=Plan(web=1, workers=1, concurrency=2, web_pool_max=3, worker_pool_max=2), max_connections=50, reserved=0
    )

    assert [line["connections"] for line in result["lines"]] == [3, 4, 3, 3]


def test_behind_pgbouncer_the_pools_count_against_its_client_limit_not_postgresql():
    plan = Plan(web=20, workers=4, concurrency=4, web_pool_max=10, worker_pool_max=5)  # 300 client connections

    result = pgbouncer_plan_check(
        plan=plan, pgbouncers=1, pool_size=40, max_client_conn=400, max_connections=100, reserved=3
    )

    assert (result["client_fits"], result["server_fits"], result["fits"]) == (True, True, True)
    assert result["words"] == "room for 10 more web processes (100 connections left)"


def test_behind_pgbouncer_server_pools_over_postgresqls_limit_do_not_fit():
    plan = Plan(web=1, workers=1, concurrency=1, web_pool_max=5, worker_pool_max=5)

    result = pgbouncer_plan_check(
        plan=plan, pgbouncers=3, pool_size=40, max_client_conn=100, max_connections=100, reserved=3
    )

    assert (result["client_fits"], result["server_fits"]) == (True, False)
    assert result["server_words"].endswith("= 120 of 97 (max_connections 100 - reserved 3): over by 23")


def test_behind_pgbouncer_more_clients_than_max_client_conn_do_not_fit():
    plan = Plan(web=20, workers=0, concurrency=1, web_pool_max=10, worker_pool_max=0)

    result = pgbouncer_plan_check(
        plan=plan, pgbouncers=1, pool_size=20, max_client_conn=100, max_connections=100, reserved=3
    )

    assert result["fits"] is False
    assert result["words"] == "over budget by 120 connections: pools may open more than PgBouncer accepts"


def test_the_command_checks_both_budgets_behind_pgbouncer(capsys):
    call_command("connection_budget", "--web", "20", "--workers", "2", "--concurrency", "2", "--pgbouncer",
                 "--pgbouncer-pool-size", "40", "--pgbouncer-max-client-conn", "500",
                 "--max-connections", "100", "--reserved", "3")  # fmt: skip

    out = capsys.readouterr().out
    assert "(PgBouncer 1 x max_client_conn 500)" in out
    assert "PgBouncer servers 1 x pool 40 = 40 of 97" in out


def test_the_command_fails_pgbouncer_pools_postgresql_cannot_take():
    with pytest.raises(CommandError, match="server pools do not fit"):
        call_command("connection_budget", "--web", "2", "--workers", "1", "--concurrency", "1", "--pgbouncer",
                     "--pgbouncers", "4", "--pgbouncer-pool-size", "40",
                     "--max-connections", "100", "--reserved", "3")  # fmt: skip


def test_a_plan_that_overflows_postgresql_directly_fits_behind_pgbouncer(capsys):
    """What PgBouncer is for: the same processes, no longer one server connection per pooled client."""
    plan = ["--web", "8", "--workers", "4", "--concurrency", "4", "--max-connections", "100", "--reserved", "3"]
    with pytest.raises(CommandError, match="does not fit"):
        call_command("connection_budget", *plan, "--no-pgbouncer")

    call_command("connection_budget", *plan, "--pgbouncer", "--pgbouncer-pool-size", "40",
                 "--pgbouncer-max-client-conn", "1000")  # fmt: skip
