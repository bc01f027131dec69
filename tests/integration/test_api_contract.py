"""The API keeps the contract its schema states, as judged by a tool we did not write.

schemathesis reads the served /api/schema and runs its coverage, fuzzing and
stateful phases with every check against a real server: once over every
operation with a real API token (the console's twins answer it 401, as
documented), once over the "console" tag with a real staff session cookie.
Any finding fails the test. The seed is printed: replay a failure with
ST_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from apps.apiclients.models import ApiScope
from apps.apiclients.services import api_client_create
from apps.workers.models import DeadLetterReplayJob
from tests.factories import CourseFactory, PaymentFactory, StudentFactory, UserFactory
from tests.support.processes import ROOT, child_env
from tests.support.servers import asgi_server

ST = Path(sys.executable).with_name("st")
ST_TIMEOUT_S = 240
MAX_EXAMPLES = 100


def _unlimited() -> dict[str, str]:
    """A limit schemathesis never reaches, counted under keys of its own: thousands of requests from 127.0.0.1
    under the session's shared rate-limit keys would leave the next tests' servers answering 429."""
    return {"RATE_LIMIT_API": "100000/m", "RATE_LIMIT_KEY_PREFIX": f"test-contract-{uuid.uuid4().hex[:8]}:rl"}


UNLIMITED = _unlimited()


def _seed() -> int:
    seed = int(os.environ.get("ST_SEED") or random.randrange(2**32))
    print(f"schemathesis seed {seed}: replay with ST_SEED={seed}")
    return seed


def _schemathesis(base: str, *, seed: int, args: list[str], cwd: Path, config: str = "", **env: str) -> None:
    """`st run` over the served schema with every check and phase; fails the test on any finding.

    `config`: a schemathesis.toml of the run's own (written to `cwd`), e.g. to name a credential
    by its security scheme, so schemathesis also sends requests without it.
    """
    (cwd / "schemathesis.toml").write_text(textwrap.dedent(config))
    result = subprocess.run(
        [
            str(ST), "--no-color", "--config-file", str(cwd / "schemathesis.toml"), "run", f"{base}/api/schema",
            "--checks", "all",
            "--phases", "coverage,fuzzing,stateful",
            "--seed", str(seed),
            "--max-examples", str(MAX_EXAMPLES),
            "--request-timeout", "10",
            "--workers", "1",
            *args,
        ],
        env=child_env(SCHEMATHESIS_HOOKS="tests.support.schemathesis_hooks", PYTHONPATH=str(ROOT), **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=ST_TIMEOUT_S,
    )  # fmt: skip
    print(result.stdout[-20000:])
    assert result.returncode == 0, f"seed {seed}:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"


@pytest.mark.slow
@pytest.mark.timeout(ST_TIMEOUT_S + 60)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_the_schema_does_not_promise(sandbox_provider, tmp_path):
    token = api_client_create(name="schemathesis", scopes=list(ApiScope.values)).token
    students, courses = StudentFactory.create_batch(3), CourseFactory.create_batch(3)
    seed = _seed()
    server_env = {"PAYMENT_PROVIDER_URL": sandbox_provider.url, **UNLIMITED}

    with asgi_server(log_path=tmp_path / "uvicorn.log", **server_env) as base:
        _schemathesis(
            base,
            seed=seed,
            args=["--header", f"Authorization: Bearer {token}"],
            cwd=tmp_path,
            ST_STUDENT_IDS=",".join(str(student.id) for student in students),
            ST_COURSE_IDS=",".join(str(course.id) for course in courses),
            ST_WEBHOOK_SECRET=sandbox_provider.webhook_secret,
        )


@pytest.mark.slow
@pytest.mark.timeout(ST_TIMEOUT_S + 60)
@pytest.mark.django_db(transaction=True)
def test_the_console_twins_keep_their_contract_for_a_staff_session(tmp_path):
    operator = UserFactory(is_staff=True)  # not a superuser: the permission opens the twins
    operator.user_permissions.add(Permission.objects.get(codename="view_console", content_type__app_label="console"))
    browser = Client()
    browser.force_login(operator)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    payment = PaymentFactory()  # real ids, so half the cases reach the twins' reads rather than their 404
    job = DeadLetterReplayJob.objects.create(max_letter_id=0, status=DeadLetterReplayJob.Status.SUCCEEDED)
    seed = _seed()

    with asgi_server(log_path=tmp_path / "uvicorn.log", **UNLIMITED, OPS_FAULT_DRILLS="true") as base:
        _schemathesis(
            base,
            seed=seed,
            args=["--include-tag", "console"],
            cwd=tmp_path,
            config=f"""
                [dictionaries.payments]
                values = [{payment.id}]
                [dictionaries.jobs]
                values = [{job.id}]
                [parameters]
                "path.payment_id" = {{ dictionary = "payments", probability = 0.5 }}
                "path.job_id" = {{ dictionary = "jobs", probability = 0.5 }}
                [auth.openapi.StaffSession]
                api_key = "{session}"
            """,
        )
