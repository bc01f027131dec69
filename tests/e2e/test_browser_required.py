"""Without Chromium the browser tests fail, with one line saying how to install it: never a silent skip."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, require_slow_marker


@pytest.mark.slow
def test_the_browser_tests_fail_with_an_install_hint_when_chromium_is_missing():
    require_slow_marker()
    env = {**os.environ, "CHROMIUM_PATH": "/nonexistent/chromium", "DATABASE_TEST_NAME": f"test_nested_{os.getpid()}"}

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_console_pages.py::test_updates_pause_while_the_tab_is_hidden",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert run.returncode == 1, run.stdout
    assert (
        "browser tests need Chromium at /nonexistent/chromium: install it with apt-get install -y chromium"
        in run.stdout
    )
    assert "skipped" not in run.stdout
