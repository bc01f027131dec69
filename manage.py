#!/usr/bin/env python
"""Django's command-line utility for ops-console."""

import os
import sys


def _asks_for_help(argv: list[str]) -> bool:
    return argv[1:2] == ["help"] or any(arg in ("-h", "--help") for arg in argv[1:])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
    if _asks_for_help(sys.argv):
        # Help runs nothing: let the settings load without the secrets a deployment must provide.
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
