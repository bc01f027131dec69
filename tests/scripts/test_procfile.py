"""The Procfile is the one process model: `make run`, the tests and the image start its commands."""

from __future__ import annotations

import sys

import pytest
from django.conf import settings

from scripts import procfile
from scripts.procfile import ProcfileError
from tests.deploy.support import celery_worker_queues


def test_the_procfile_defines_release_web_the_workers_beat_and_relay():
    assert list(procfile.load()) == [
        "release",
        "web",
        "worker",
        "worker-pipeline",
        "worker-housekeeping",
        "beat",
        "relay",
    ]


def test_a_variable_takes_its_value_from_the_environment_or_its_default():
    assert procfile.expand("--port ${PORT:-8000}", {"PORT": "9001"}) == "--port 9001"
    assert procfile.expand("--port ${PORT:-8000}", {}) == "--port 8000"
    assert procfile.expand("--port ${PORT:-8000}", {"PORT": ""}) == "--port 8000"


def test_a_variable_with_no_value_and_no_default_is_refused():
    with pytest.raises(ProcfileError, match="PORT"):
        procfile.expand("--port ${PORT}", {})


def test_python_commands_run_on_the_interpreter_running_the_project():
    argv = procfile.argv("relay", {})
    assert argv == [sys.executable, "manage.py", "outbox_relay"]


def test_the_web_command_is_uvicorn_with_the_production_flags_on_the_given_port():
    argv = procfile.argv("web", {"HOST": "127.0.0.1", "PORT": "8123"})
    assert argv[1:4] == ["-m", "uvicorn", "ops_console.asgi:application"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "8123"
    assert "--no-proxy-headers" in argv
    # Keep-alive longer than the load balancer's idle timeout (65 s), so the balancer closes idle connections first.
    assert int(argv[argv.index("--timeout-keep-alive") + 1]) > 65


def test_the_worker_consumes_every_queue_by_default_and_the_named_ones_when_told():
    argv = procfile.argv("worker", {})
    assert argv[argv.index("-Q") + 1].split(",") == list(settings.WORKER_QUEUES)
    argv = procfile.argv("worker", {"WORKER_QUEUES": "cache"})
    assert argv[argv.index("-Q") + 1] == "cache"


def test_the_worker_groups_together_consume_every_queue_and_each_queue_in_one_group_only():
    pipeline = celery_worker_queues("worker-pipeline", {})
    housekeeping = celery_worker_queues("worker-housekeeping", {})
    assert pipeline is not None and housekeeping is not None
    assert pipeline | housekeeping == set(settings.WORKER_QUEUES)
    assert not pipeline & housekeeping


def test_the_pipeline_group_consumes_purchases_allocations_and_sessions_and_nothing_else():
    assert celery_worker_queues("worker-pipeline", {}) == {"purchases", "allocations", "sessions"}


def test_the_worker_groups_run_the_worker_command_with_only_their_queues_changed():
    env = {"WORKER_CONCURRENCY": "3"}
    worker = procfile.argv("worker", env)
    for group in ("worker-pipeline", "worker-housekeeping"):
        argv = procfile.argv(group, env)
        q = argv.index("-Q")
        assert argv[:q] + argv[q + 2 :] == worker[:q] + worker[q + 2 :], group


def test_every_queue_a_task_can_be_sent_to_is_a_worker_queue():
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= set(settings.WORKER_QUEUES)


def test_an_unknown_process_type_is_named_in_the_error(tmp_path):
    path = tmp_path / "Procfile"
    path.write_text("web: python -m uvicorn app\n")
    with pytest.raises(ProcfileError, match=r"no process type 'worker'.*it has web"):
        procfile.argv("worker", {}, path=path)


def test_a_malformed_or_repeated_line_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "Procfile"
    path.write_text("# comment\nweb: run\nweb: again\n")
    with pytest.raises(ProcfileError, match="Procfile:3: process type 'web' is defined twice"):
        procfile.load(path)
    path.write_text("not a process line\n")
    with pytest.raises(ProcfileError, match="Procfile:1: expected"):
        procfile.load(path)


def test_run_execs_the_type_from_the_project_root_under_this_environment(monkeypatch):
    calls = []
    monkeypatch.setenv("PORT", "8124")
    monkeypatch.setattr(procfile.os, "chdir", lambda path: calls.append(("chdir", path)))
    monkeypatch.setattr(procfile.os, "execvp", lambda file, args: calls.append(("exec", file, args)))
    procfile.run("web")
    assert calls[0] == ("chdir", procfile.PROCFILE.parent)
    _, file, args = calls[1]
    assert file == sys.executable and args[args.index("--port") + 1] == "8124"


def test_the_command_line_interface_lists_and_shows_types_and_refuses_unknown_ones(capsys, monkeypatch):
    monkeypatch.setenv("WORKER_QUEUES", "cache")
    assert procfile.main(["list"]) == 0
    assert capsys.readouterr().out.split() == list(procfile.load())
    assert procfile.main(["show", "worker"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("-Q cache")
    assert procfile.main(["run", "nope"]) == 2
    assert "no process type 'nope'" in capsys.readouterr().err
