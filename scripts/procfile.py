"""The Procfile's commands as argument lists: what `make run`, the tests and the image start.

    commands = procfile.load()                       # {"release": "python manage.py release", "web": ...}
    argv = procfile.argv("web", {"PORT": "8001"})    # ["/…/python", "-m", "uvicorn", …, "--port", "8001", …]

A command is one program and its arguments: no shell, no pipes, no `&&` (the
release step is one management command for that reason). `${NAME:-default}`
takes NAME from the given environment, else the default; a leading `python` is
the interpreter running this module, so the project's virtualenv is used.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
_LINE = re.compile(r"^(?P<name>[a-z][a-z0-9_-]*):\s*(?P<command>\S.*)$")
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class ProcfileError(ValueError):
    """The Procfile is malformed, or names a variable with no value and no default."""


def load(path: Path = PROCFILE) -> dict[str, str]:
    """Process type -> command line, in the file's order; comments and blank lines skipped."""
    commands: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ProcfileError(f"{path.name}:{number}: expected `name: command`, got {line!r}")
        if match["name"] in commands:
            raise ProcfileError(f"{path.name}:{number}: process type {match['name']!r} is defined twice")
        commands[match["name"]] = match["command"]
    return commands


def expand(command: str, env: Mapping[str, str]) -> str:
    """`command` with every ${NAME} / ${NAME:-default} replaced from `env`."""

    def value(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if env.get(name):
            return env[name]
        if default is None:
            raise ProcfileError(f"${{{name}}} has no value and no default")
        return default

    return _VARIABLE.sub(value, command)


def argv(name: str, env: Mapping[str, str], *, path: Path = PROCFILE) -> list[str]:
    """The argument list that starts process type `name` under `env`."""
    commands = load(path)
    if name not in commands:
        raise ProcfileError(f"no process type {name!r} in {path.name} (it has {', '.join(commands)})")
    words = shlex.split(expand(commands[name], env))
    return [sys.executable, *words[1:]] if words[0] == "python" else words
