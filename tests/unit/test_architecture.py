"""The import graph of the source tree: no cycles between files or packages, and the product never
imports the emulator. Imports inside functions and under TYPE_CHECKING count: a cycle hidden from
the interpreter is still a cycle for the reader."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = (
    "cli",
    "components",
    "automation",
    "service",
    "sandbox",
    "webbuild",
    "dbtools",
    "libsql",
    "core",
)
PRODUCT = ("components", "automation", "service", "webbuild", "dbtools", "libsql", "core")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module (or package) an imported name lives in, if it is ours."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                owner = _owner(target, known)
                if owner is not None and owner != name:
                    graph[name].add(owner)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {t for targets in graph.values() for t in targets}
    for start in sorted(nodes):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def package_graph(graph: dict[str, set[str]], known: dict[str, Path]) -> dict[str, set[str]]:
    """Edges between packages (folders); a package importing its own subpackages does not count."""

    def package(name: str) -> str:
        return name if known[name].name == "__init__.py" else name.rpartition(".")[0] or name

    packages: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        for target in targets:
            a, b = package(source), package(target)
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                packages[a].add(b)
    return packages


def test_no_file_imports_itself_in_a_circle() -> None:
    known = modules()
    assert cycles(import_graph(known)) == []


def test_no_package_imports_itself_in_a_circle() -> None:
    known = modules()
    assert cycles(package_graph(import_graph(known), known)) == []


def test_the_product_never_imports_the_sandbox() -> None:
    known = modules()
    graph = import_graph(known)
    offending = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.split(".")[0] in PRODUCT
        for target in targets
        if target.split(".")[0] == "sandbox"
    )
    assert offending == []


def test_the_checker_sees_hidden_cycles(tmp_path: Path) -> None:
    """A cycle through a function-level import and one under TYPE_CHECKING are both found."""
    sources = {
        "a": "def late():\n    from b import thing\n",
        "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nthing = 1\n",
        "c": "import a\n",
    }
    known = {}
    for name, text in sources.items():
        (tmp_path / f"{name}.py").write_text(text)
        known[name] = tmp_path / f"{name}.py"
    assert cycles(import_graph(known)) == [["a", "b"]]
