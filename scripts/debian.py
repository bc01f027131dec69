"""Debian packages the test bootstrap installs when missing (Chromium, HAProxy, PgBouncer).

Only as root with apt-get; a package whose service Debian would start on install is
kept from starting (policy-rc.d exits 101): only our own processes, with our own
configuration, run it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

POLICY_RC = Path("/usr/sbin/policy-rc.d")


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(package: str, *, recommends: bool = True) -> None:
    """`apt-get install -y PACKAGE` with no service started; an old package list is refreshed once."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", *([] if recommends else ["--no-install-recommends"]), package]
    with _services_not_started():
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            # An old or empty package list: refresh it once and try again.
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """A policy-rc.d that forbids starting services (exit 101), while none is installed; removed afterwards."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink(missing_ok=True)
