"""No import circles: the modules of the rec packages import each other as a DAG.

Every import that can run counts, at module level or inside a function (a lazy import that
calls back into its caller is a circle too); only ``if TYPE_CHECKING:`` imports are left
out. A package's ``__init__`` re-exporting its own submodules is not a circle (the package
is already being imported).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

PACKAGES = ("rec_core", "rec_trainers", "rec_tracking", "rec_genrec")


def _source_root(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _module_name(root: Path, path: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Return every module ``tree`` imports when it runs: at import time or inside its functions."""
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
               for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return module -> the modules of our packages it imports at import time."""
    sources: dict[str, tuple[ast.Module, bool]] = {}
    for package in PACKAGES:
        root = _source_root(package)
        if root is None:
            continue
        for path in root.rglob("*.py"):
            name = _module_name(root, path, package)
            sources[name] = (ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py")
    graph: dict[str, set[str]] = {}
    for name, (tree, is_package) in sources.items():
        targets = {t for t in _runtime_imports(tree, name, is_package) if t in sources and t != name}
        # a package importing its own submodules (re-exports) is not a circle
        graph[name] = {t for t in targets if not (is_package and t.startswith(name + "."))}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import circle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_rec_packages_have_no_import_circles():
    graph = import_graph()
    if "rec_core" not in graph:
        pytest.skip("rec_core sources not found")
    assert len(graph) > 50
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_plugin_packages_import_rec_core_and_themselves_only():
    """DESIGN: a package depends on rec-core and never on a sibling plugin package."""
    graph = import_graph()
    present = {module.split(".")[0] for module in graph}
    if len(present - {"rec_core"}) < 2:
        pytest.skip("needs at least two plugin packages installed")
    crossings = sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                       if target.split(".")[0] not in ("rec_core", module.split(".")[0]))
    assert crossings == []
