"""The image: slim Python 3.11 stages, no compiler in the final one, not root, a health check, Procfile types only.

No container engine runs here, so the image is never built by the suite: these tests read the
Dockerfile, and test_build_time_collectstatic runs its static-files step with the same variables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from scripts import procfile
from tests.deploy.support import ROOT, dockerfile_stages

BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "libpq-dev", "python3-dev")


def test_every_stage_starts_from_slim_python_3_11():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a multi-stage build"
    assert {stage.base for stage in stages} == {"python:3.11-slim"}


def test_the_final_stage_installs_no_build_tools():
    final = dockerfile_stages()[-1]
    commands = " ".join(final.all("RUN"))
    assert not [tool for tool in BUILD_TOOLS if re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", commands)]
    assert "apt-get install" not in commands and "pip install" not in commands


def test_the_compiler_is_installed_only_in_the_build_stage():
    build, final = dockerfile_stages()[0], dockerfile_stages()[-1]
    assert any("build-essential" in command for command in build.all("RUN"))
    assert all(source.startswith("--from=") for source in final.all("COPY")), "the final stage copies from the build"


def test_the_final_stage_runs_as_a_numeric_non_root_user():
    user = dockerfile_stages()[-1].last("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes' runAsNonRoot can verify it"


def test_the_health_check_asks_slash_health():
    healthcheck = dockerfile_stages()[-1].last("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command == ["python", "-m", "scripts.healthcheck"]
    assert '"/health"' in (ROOT / "scripts" / "healthcheck.py").read_text()


def test_the_entrypoint_runs_a_procfile_type_and_the_default_is_web():
    final = dockerfile_stages()[-1]
    assert final.exec_form("ENTRYPOINT") == ["python", "-m", "scripts.procfile", "run"]
    assert final.exec_form("CMD") == ["web"]
    assert final.exec_form("CMD")[0] in procfile.load()


def test_no_procfile_command_line_is_copied_into_the_image():
    commands = [
        arguments
        for stage in dockerfile_stages()
        for instruction, arguments in stage.instructions
        if instruction in {"RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK"}
    ]
    copied = [
        line for line in commands if re.search(r"uvicorn|celery -A|-m celery|outbox_relay|manage.py release", line)
    ]
    assert copied == []


def test_static_files_are_collected_at_build_time_with_production_settings():
    build = dockerfile_stages()[0]
    collect = next(command for command in build.all("RUN") if "collectstatic" in command)
    assert "DEBUG=0" in collect, "DEBUG off: the hashed names and the manifest whitenoise serves"
    assert "python manage.py collectstatic --no-input" in collect


def _build_time_environment() -> dict[str, str]:
    """The variables the Dockerfile's collectstatic step sets, with its generated key generated here."""
    collect = next(command for command in dockerfile_stages()[0].all("RUN") if "collectstatic" in command)
    assigned = dict(re.findall(r"\b([A-Z_]+)=(\"\$\(.*?\)\"|\S+)", collect.split("python manage.py")[0]))
    secret_key = assigned.pop("SECRET_KEY")
    assert "secrets.token_urlsafe(50)" in secret_key
    return {**assigned, "SECRET_KEY": "build-" + os.urandom(32).hex()}


@pytest.mark.slow
def test_the_build_time_collectstatic_needs_no_database_redis_or_real_secret(tmp_path):
    # What the build stage has: no DATABASE_URL or REDIS_URL that answers (port 9 refuses), nothing else set.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/ops_console",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        **_build_time_environment(),
    }
    command = [sys.executable, "manage.py", "collectstatic", "--no-input", "--dry-run", "--verbosity", "1"]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "static files copied" in completed.stdout
