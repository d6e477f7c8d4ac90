"""Guard the architecture of ``src/reluscope`` (see docs/architecture.md).

These tests read the source with :mod:`ast`; they fail on
- a circle of imports between reluscope modules (module-level *and* function-local
  imports: a circle hidden inside a function is still a circle),
- a module over 800 lines,
- two public classes with the same name in different modules,
- the library importing the layers above it (report, experiments, CLI), or the core
  (network, domain, errors) importing a topic,
- a function-local import in the library of anything but an optional heavy dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "reluscope"
MAX_LINES = 800

# layers above the library: they may import it, it never imports them
UPPER = ("reluscope.report", "reluscope.experiments", "reluscope._cli", "reluscope.cli",
         "reluscope.__main__")
# the core value and its helpers import no topic
CORE = ("reluscope.network", "reluscope.domain", "reluscope.errors", "reluscope._results",
        "reluscope._lazy", "reluscope._budget", "reluscope._progress")
CORE_MAY_IMPORT = CORE + ("reluscope",)
# optional or slow third-party packages that library functions may import lazily
HEAVY = {"torch", "z3", "sklearn", "matplotlib", "dask", "distributed", "onnx", "onnxruntime",
         "skops", "safetensors", "scipy", "rich", "typer", "highspy", "multiprocessing"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The reluscope modules an import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "reluscope"]
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "reluscope":
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(module: str) -> tuple[list[tuple[str, int]], list[tuple[str, int, str]]]:
    """(module-level reluscope imports, function-local imports as (name, line, top package))."""
    tree = ast.parse(MODULES[module].read_text())
    top: list[tuple[str, int]] = []
    local: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue  # annotations only; never executed
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = _resolve(module, child)
                if in_function:
                    if isinstance(child, ast.Import):
                        names = [a.name.split(".")[0] for a in child.names]
                    else:
                        names = ["reluscope" if child.level else (child.module or "").split(".")[0]]
                    for t in targets or names:
                        local.append((t, child.lineno, t.split(".")[0]))
                else:
                    top.extend((t, child.lineno) for t in targets)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, local


GRAPH: dict[str, set[str]] = defaultdict(set)
LOCAL: dict[str, list[tuple[str, int, str]]] = {}
for _m in MODULES:
    _top, _local = _imports(_m)
    LOCAL[_m] = _local
    GRAPH[_m].update(t for t, _ in _top if t in MODULES and t != _m)
    GRAPH[_m].update(t for t, _, _ in _local if t in MODULES and t != _m)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def dfs(u: str) -> list[str] | None:
        colour[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if colour.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in colour and (c := dfs(v)):
                return c
        colour[u] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in colour and (c := dfs(node)):
            return c
    return None


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_guard_sees_the_package():
    # the guard must not pass vacuously: it finds the modules and their imports
    assert "reluscope.network" in MODULES and len(MODULES) > 40
    assert "reluscope.network" in GRAPH["reluscope._validation"]


def test_no_import_circle():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_guard_detects_a_circle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(SRC)} has {lines} lines (limit {MAX_LINES}): split it"


def test_public_class_names_are_unique():
    where: dict[str, list[str]] = defaultdict(list)
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(name)
    clashes = {cls: mods for cls, mods in where.items() if len(mods) > 1}
    assert not clashes, f"public classes defined in more than one module: {clashes}"


def test_library_never_imports_upper_layers():
    bad = [(m, t) for m, targets in GRAPH.items() if not _in(m, UPPER)
           for t in targets if _in(t, UPPER)]
    assert not bad, f"library modules importing report/experiments/CLI: {bad}"


def test_core_imports_no_topic():
    bad = [(m, t) for m in MODULES if _in(m, CORE) for t in GRAPH[m] if not _in(t, CORE_MAY_IMPORT)]
    assert not bad, f"core modules importing a topic: {bad}"


def test_function_local_imports_only_for_heavy_dependencies():
    bad = [f"{MODULES[m].relative_to(SRC)}:{line} imports {t}"
           for m, entries in LOCAL.items() if not _in(m, UPPER)
           for t, line, top in entries if top not in HEAVY]
    assert not bad, "function-local imports in the library (move them to the top): " + "; ".join(bad)
