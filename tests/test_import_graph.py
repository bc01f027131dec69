"""Imports under apps/ and lib/ point one way: no module imports itself back, not even from inside a function.

lib/ is below every app: it imports nothing from apps/.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("apps", "lib")
# The pipeline's steps (apps/pipeline/steps.py) decide what comes next; these services only do their step.
PIPELINE_DOMAIN_SERVICES = ("apps.purchases.services", "apps.allocations.services", "apps.tutoring.services")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in (path for package in PACKAGES for path in (ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _import_graph() -> dict[str, set[str]]:
    """Each module under apps/ and lib/ -> the modules under them it imports anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_under_apps_or_lib_is_part_of_an_import_cycle():
    assert _cycles(_import_graph()) == []


def test_lib_imports_nothing_from_apps():
    graph = _import_graph()

    offenders = sorted(
        f"{module} -> {imported}"
        for module, imports in graph.items()
        if module.split(".")[0] == "lib"
        for imported in imports
        if imported.split(".")[0] == "apps"
    )

    assert offenders == []


def test_the_cycle_finder_reports_each_circle_once_and_nothing_that_only_leads_into_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert _cycles(graph) == [["a", "b", "c"]]


def test_imports_inside_functions_count():
    # ReliableTask records dead letters through an import inside a method.
    assert "apps.workers.services" in _import_graph()["apps.workers.retry"]


def test_the_pipelines_domain_services_import_no_tasks_and_no_outbox():
    graph = _import_graph()

    for service in PIPELINE_DOMAIN_SERVICES:
        handing_on = {m for m in graph[service] if m.endswith(".tasks")}
        handing_on |= {m for m in graph[service] if m.startswith("apps.outbox")}
        assert handing_on == set(), service
