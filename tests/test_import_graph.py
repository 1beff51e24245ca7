"""The package's imports go one way: no module reaches back, even through a lazy import.

The graph is read from the source (every `import` and `from ... import` of an orderhist
module, at module level or inside a function), so a cycle hidden in a function body, which
Python would tolerate at run time, still fails here: it is still two modules that cannot be
understood, or moved, apart.
"""
from __future__ import annotations

import ast
from pathlib import Path

import orderhist

PACKAGE = Path(orderhist.__file__).resolve().parent


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["orderhist", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _owner(name: str, modules: dict[str, Path]) -> str:
    """The module a dotted name lives in (`orderhist.aws.client` -> `orderhist.aws`)."""
    while name not in modules:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # `from orderhist import aws` imports the module orderhist.aws
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target == "orderhist" or target.startswith("orderhist."):
                    graph[name].add(_owner(target, modules))
        graph[name].discard(name)
    # The CLI imports its command modules by name, when a command runs: edges all the same.
    from orderhist.cli import COMMANDS

    graph["orderhist.cli"] |= {f"orderhist.cli.{module}" for module, _ in COMMANDS.values()}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # cli imports its commands' modules; the emulator's server imports its parts lazily.
    assert any(target.startswith("orderhist.") for target in graph["orderhist.cli"])
    assert len(graph) > 50


def test_a_planted_cycle_is_found():
    graph = import_graph()
    graph["orderhist.errors"] = graph["orderhist.errors"] | {"orderhist.cli"}
    assert cycles(graph)


def test_no_import_cycle_among_the_package_modules():
    assert cycles(import_graph()) == []
