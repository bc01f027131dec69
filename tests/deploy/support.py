"""Readers for the deployment files the tests in tests/deploy check: the Dockerfile, compose.yaml, deploy/k8s."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts import procfile

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
K8S = ROOT / "deploy" / "k8s"


@dataclass
class Stage:
    """One FROM ... stage: its base image, its name and its instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]

    def exec_form(self, keyword: str) -> list[str]:
        """The last `keyword ["a", "b"]` instruction's words (the exec form, no shell)."""
        return json.loads(self.last(keyword))


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The Dockerfile's stages; comments dropped, continued lines joined."""
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    )
    stages: list[Stage] = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        instruction, _, arguments = line.partition(" ")
        instruction, arguments = instruction.upper(), " ".join(arguments.split())
        if instruction == "FROM":
            base, _, name = arguments.partition(" AS ")
            stages.append(Stage(base=base.strip(), name=name.strip() or None))
        else:
            stages[-1].instructions.append((instruction, arguments))
    return stages


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_resources() -> list[tuple[str, dict[str, Any]]]:
    """(file name, resource) for every document of every manifest under deploy/k8s."""
    return [
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    found = [doc for _, doc in k8s_resources() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def celery_worker_queues(kind: str, env: Mapping[str, str]) -> set[str] | None:
    """The queues Procfile type `kind` consumes under `env` (its `-Q`); None when it is no Celery worker."""
    argv = procfile.argv(kind, env)
    if argv[1:3] != ["-m", "celery"] or "worker" not in argv:
        return None
    return set(argv[argv.index("-Q") + 1].split(","))
