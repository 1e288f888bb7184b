"""The shape of the code (docs/architecture.md): which package may import which.

Read from the source with ast, imports inside functions included: an import moved into a
function to dodge a cycle is still a dependency.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("feedlens", "accounts", "ingestion", "insights", "alerts", "llm", "devtools")
# The one module per app that hands work to Celery.
ENQUEUERS = {"ingestion.jobs", "insights.jobs"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PRODUCT_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


MODULES = product_modules()


def imported_names(path: Path) -> Iterator[str]:
    """Every module path that path imports, as written, with `from a import b` also as a.b."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def imports_of(module: str) -> set[str]:
    """The product modules that module imports."""
    return {name for name in imported_names(MODULES[module]) if name in MODULES} - {module}


GRAPH = {module: imports_of(module) for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_product_and_its_imports() -> None:
    assert "insights.pipeline.run" in MODULES and "llm.generation" in MODULES
    assert "insights.models" in GRAPH["insights.pipeline.run"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_product_module_takes_part_in_an_import_cycle() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] == "llm"))
def test_llm_imports_no_django_and_no_app(module: str) -> None:
    roots = {name.split(".")[0] for name in imported_names(MODULES[module])}
    apps = {"django", "feedlens", "accounts", "ingestion", "insights", "alerts", "devtools"}
    assert roots & apps == set()


def test_ingestion_imports_nothing_from_insights() -> None:
    offenders = {
        module: sorted(name for name in targets if name.split(".")[0] == "insights")
        for module, targets in GRAPH.items()
        if module.split(".")[0] == "ingestion"
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_insights_imports_nothing_from_alerts() -> None:
    offenders = {
        module: sorted(name for name in targets if name.split(".")[0] == "alerts")
        for module, targets in GRAPH.items()
        if module.split(".")[0] == "insights"
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_product_does_not_import_devtools() -> None:
    offenders = [
        module
        for module, targets in GRAPH.items()
        if module.split(".")[0] != "devtools"
        and any(t.split(".")[0] == "devtools" for t in targets)
    ]
    assert offenders == []


def test_only_the_jobs_modules_import_tasks() -> None:
    importers = {
        module
        for module, targets in GRAPH.items()
        if any(target.rsplit(".", 1)[-1] == "tasks" for target in targets)
    }
    assert importers <= ENQUEUERS
