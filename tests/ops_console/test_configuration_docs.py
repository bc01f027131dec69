"""Every environment variable the settings read is documented and listed in .env.example."""

from __future__ import annotations

import re

import pytest

from tests.support.processes import ROOT

# env.int("NAME", ...), env.str("NAME", ...): every read in settings.py goes through ops_console.env.
GETTER = re.compile(r"""\benv\.[a-z_]+\(\s*["']([A-Z][A-Z0-9_]+)["']""")
DOCUMENTED = (ROOT / "docs" / "configuration.md").read_text()
EXAMPLE = (ROOT / ".env.example").read_text()


def _variables() -> list[str]:
    return sorted(set(GETTER.findall((ROOT / "ops_console" / "settings.py").read_text())))


def test_the_settings_read_variables_at_all():
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DB_POOL_MAX_SIZE"} <= set(_variables())


@pytest.mark.parametrize("variable", _variables())
def test_each_variable_is_in_the_configuration_doc(variable):
    assert f"`{variable}`" in DOCUMENTED


@pytest.mark.parametrize("variable", _variables())
def test_each_variable_is_in_the_env_example(variable):
    assert re.search(rf"^#? ?{variable}=", EXAMPLE, re.MULTILINE)


def test_the_settings_read_the_environment_only_through_env():
    settings_source = (ROOT / "ops_console" / "settings.py").read_text()

    assert "os.environ" not in settings_source and "getenv" not in settings_source


def _procfile_variables() -> list[str]:
    commands = [line for line in (ROOT / "Procfile").read_text().splitlines() if not line.startswith("#")]
    return sorted(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", "\n".join(commands))))


def test_the_procfile_reads_variables_at_all():
    assert {"PORT", "WEB_KEEP_ALIVE", "WORKER_CONCURRENCY"} <= set(_procfile_variables())


@pytest.mark.parametrize("variable", _procfile_variables())
def test_each_procfile_variable_is_in_the_configuration_doc_and_the_env_example(variable):
    assert f"`{variable}`" in DOCUMENTED
    assert re.search(rf"^#? ?{variable}=", EXAMPLE, re.MULTILINE)
