"""The API keeps the contract its schema states, as judged by a tool we did not write.

schemathesis reads the served /api/schema and runs its coverage, fuzzing and
stateful phases with every check against a real server, authenticated with a
real API token; any finding fails the test. The seed is printed: replay a
failure with ST_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from apps.apiclients.models import ApiScope
from apps.apiclients.services import api_client_create
from tests.factories import CourseFactory, StudentFactory
from tests.support.processes import ROOT, child_env
from tests.support.servers import asgi_server

ST = Path(sys.executable).with_name("st")
ST_TIMEOUT_S = 240
MAX_EXAMPLES = 100


@pytest.mark.slow
@pytest.mark.timeout(ST_TIMEOUT_S + 60)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_the_schema_does_not_promise(sandbox_provider, tmp_path):
    token = api_client_create(name="schemathesis", scopes=list(ApiScope.values)).token
    students, courses = StudentFactory.create_batch(3), CourseFactory.create_batch(3)
    seed = int(os.environ.get("ST_SEED") or random.randrange(2**32))
    print(f"schemathesis seed {seed}: replay with ST_SEED={seed}")
    server_env = {"PAYMENT_PROVIDER_URL": sandbox_provider.url, "RATE_LIMIT_API": "100000/m"}

    with asgi_server(log_path=tmp_path / "uvicorn.log", **server_env) as base:
        result = subprocess.run(
            [
                str(ST), "--no-color", "run", f"{base}/api/schema",
                "--checks", "all",
                "--phases", "coverage,fuzzing,stateful",
                "--seed", str(seed),
                "--max-examples", str(MAX_EXAMPLES),
                "--header", f"Authorization: Bearer {token}",
                "--request-timeout", "10",
                "--workers", "1",
            ],
            env=child_env(
                SCHEMATHESIS_HOOKS="tests.support.schemathesis_hooks",
                PYTHONPATH=str(ROOT),
                ST_STUDENT_IDS=",".join(str(student.id) for student in students),
                ST_COURSE_IDS=",".join(str(course.id) for course in courses),
                ST_WEBHOOK_SECRET=sandbox_provider.webhook_secret,
            ),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=ST_TIMEOUT_S,
        )  # fmt: skip

    print(result.stdout[-20000:])
    assert result.returncode == 0, f"seed {seed}:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
