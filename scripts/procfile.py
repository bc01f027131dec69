"""The Procfile's commands as argument lists: what `make run`, the tests and the image start.

    commands = procfile.load()                       # {"release": "python manage.py release", "web": ...}
    argv = procfile.argv("web", {"PORT": "8001"})    # ["/…/python", "-m", "uvicorn", …, "--port", "8001", …]

    python -m scripts.procfile run web               # exec it (the container image's entrypoint)
    python -m scripts.procfile show web              # print it; `list` prints the process types

A command is one program and its arguments: no shell, no pipes, no `&&` (the
release step is one management command for that reason). `${NAME:-default}`
takes NAME from the given environment, else the default; a leading `python` is
the interpreter running this module, so the project's virtualenv is used.
"""

from __future__ import annotations

import argparse
import os
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


def run(name: str) -> None:
    """Replace this process with process type `name`, under this environment, from the project root.

    The image's entrypoint: `python -m scripts.procfile run web`. exec, not a child, so the
    server is the container's main process and gets SIGTERM itself (the WebSocket drain).
    """
    command = argv(name, os.environ)
    os.chdir(PROCFILE.parent)
    os.execvp(command[0], command)  # noqa: S606 -- an argument list from the Procfile, no shell


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.procfile", description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the process types, one a line")
    for action, text in (("show", "print the command line of TYPE under this environment"), ("run", "exec TYPE")):
        actions.add_parser(action, help=text).add_argument("type")
    options = parser.parse_args(args)
    try:
        if options.action == "list":
            print("\n".join(load()))
        elif options.action == "show":
            print(shlex.join(argv(options.type, os.environ)))
        else:
            run(options.type)  # returns only if exec failed, which raises
    except ProcfileError as error:
        print(f"procfile: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
