"""The import-layers contract: conveyor's modules import only their own layer or the ones below.

Read from the source with ``ast`` (nothing is imported), so a violation is found even in a
module no test loads. ``make lint`` runs this file, and it is part of ``tests/unit``, so CI
checks it twice and it cannot be skipped by running only one of them.

The layers, lowest first, are :data:`LAYERS`; docs/architecture.md draws the same table. Rules:

* **Layer rule**: every import of a ``conveyor`` module (at module level, inside a function, or
  under ``if TYPE_CHECKING:``) must point to the importer's layer or a lower one. Type-only
  imports count: a signature naming a higher layer's type is still an upward dependency.
* **Cycle rule**: the *runtime* import graph (module-level imports plus imports inside
  functions, which run when the function does) has no cycle, between modules nor between the
  top-level packages (``conveyor.monitor`` as one unit, ``conveyor.store`` as one unit...).
  ``if TYPE_CHECKING:`` imports are exempt here: they never execute, and the app's own types
  (``Conveyor`` in ``jobs``/``handle`` annotations) refer to each other by nature.
* Every module must be placed in a layer, so a new module is placed on purpose.

Not seen: the implicit import of parent packages (``import conveyor.errors`` runs
``conveyor/__init__``; every Python package works so and it is not a dependency one writes),
and ``importlib.import_module`` with a computed name (``conveyor.monitor``'s lazy exports).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "conveyor"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Pure helpers and plain records: import nothing of conveyor above this line.
    ("base", (
        "conveyor._signing", "conveyor._args", "conveyor._destinations", "conveyor._durations",
        "conveyor.errors", "conveyor._lifecycle", "conveyor._limits", "conveyor.models",
        "conveyor._names", "conveyor._once", "conveyor._outbound", "conveyor._outbox",
        "conveyor._retries", "conveyor._unique", "conveyor._sequence", "conveyor._logformat",
    )),
    # The store contract, its records and both stores.
    ("store", ("conveyor.store",)),
    # The app object and every declaration it holds: jobs, handles, schedules and monitor
    # config (declared on the app, validated at declaration), notify_url settings.
    ("core app", (
        "conveyor", "conveyor.app", "conveyor._backpressure", "conveyor._context",
        "conveyor._observers",
        "conveyor._events",
        "conveyor._handle", "conveyor._jobs", "conveyor._loading", "conveyor._webhooks",
        "conveyor.middleware", "conveyor.otel",
        "conveyor._watching", "conveyor.pipelines",
        "conveyor.schedules", "conveyor.schedules.cron", "conveyor.schedules.definition",
        "conveyor.schedules.misfire", "conveyor.schedules.slots", "conveyor.schedules.timing",
        "conveyor.monitor", "conveyor.monitor.config", "conveyor.monitor.notice",
        "conveyor.monitor.rules", "conveyor.monitor.signing", "conveyor.monitor.sinks",
    )),
    # The services that run what the app declares.
    ("services", (
        "conveyor.delivery", "conveyor.worker", "conveyor.schedules.scheduler",
        "conveyor.monitor.checkins", "conveyor.monitor.delivery", "conveyor.monitor.incidents",
        "conveyor.monitor.judge", "conveyor.monitor.runs", "conveyor.monitor.service",
        "conveyor.monitor.scheduler_watch", "conveyor.monitor.gauges",
        "conveyor.why", "conveyor._why", "conveyor._scaling",
    )),
    # What a person drives: the dashboard, the CLI, the test helpers, the demo.
    ("faces", (
        "conveyor.__main__", "conveyor.cli", "conveyor.contrib", "conveyor.demo",
        "conveyor.testing", "conveyor.web",
    )),
)

RUNTIME = frozenset({"module", "function"})


@dataclass(frozen=True)
class Import:
    """One import of a conveyor module: who, what, where (line) and when it runs."""

    importer: str
    imported: str
    line: int
    kind: str  # "module" (at import time), "function" (when called), "type" (TYPE_CHECKING)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``conveyor.store.protocol`` for ``conveyor/store/protocol.py``; packages by their name."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool,
             known: Iterable[str]) -> Iterator[str]:
    known = set(known)
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolve against the importer's package
        package = importer if is_package else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        # ``from conveyor.schedules import slots`` imports the submodule, not the package.
        sub = f"{base}.{alias.name}"
        yield sub if sub in known else base


def imports_of(name: str, path: Path, known: Iterable[str]) -> list[Import]:
    """The conveyor imports in one module, each with the kind of moment it runs at."""
    found: list[Import] = []
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for inner in child.body:
                    visit(inner, "type")
                for inner in child.orelse:
                    visit(inner, kind)
            else:
                visit(child, kind)

    def visit(node: ast.AST, kind: str) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, name, is_package, known):
                if target == "conveyor" or target.startswith("conveyor."):
                    found.append(Import(name, target, node.lineno, kind))
            return
        inner = kind
        function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        if kind == "module" and isinstance(node, function):
            inner = "function"
        walk(node, inner)

    walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), "module")
    return found


def all_imports(root: Path = PACKAGE) -> list[Import]:
    """Every conveyor import in the package."""
    found = modules(root)
    return [imp for name, path in found.items() for imp in imports_of(name, path, found)]


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of the longest listed prefix of ``module``, or None."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # The root package is placed by exact name only, so a new module is never placed
            # by accident through the "conveyor" prefix.
            below = prefix != "conveyor" and module.startswith(prefix + ".")
            if (module == prefix or below) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def upward(imports: Iterable[Import]) -> list[str]:
    """A line per import that points to a higher layer than its importer's."""
    problems: list[str] = []
    for imp in imports:
        low, high = layer_of(imp.importer), layer_of(imp.imported)
        if low is None or high is None or high <= low:
            continue
        problem = (
            f"{imp.importer} (layer {low} {LAYERS[low][0]!r}) imports {imp.imported} "
            f"(layer {high} {LAYERS[high][0]!r}) at line {imp.line} ({imp.kind}-level): move the "
            "shared part down to a lower layer, or call up through the app"
        )
        if problem not in problems:  # ``from x import a, b`` is one import, said once
            problems.append(problem)
    return problems


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The import cycles (strongly connected groups of two or more) of a directed graph."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def top_package(module: str) -> str:
    """``conveyor.monitor`` for ``conveyor.monitor.rules``: the unit of the package-level rule."""
    return ".".join(module.split(".")[:2])


def _describe(groups: list[list[str]], imports: list[Import], unit: Callable[[str], str]) -> str:
    """Each cycle with the imports that close it (``unit`` maps a module to a graph node)."""
    lines = []
    for group in groups:
        members = set(group)
        links = sorted({f"{i.importer} -> {i.imported} (line {i.line})" for i in imports
                        if unit(i.importer) in members and unit(i.imported) in members
                        and unit(i.importer) != unit(i.imported)})
        lines.append("cycle among " + ", ".join(group) + ":\n    " + "\n    ".join(links))
    return "\n".join(lines) + (
        "\nbreak it by moving what both sides need into a lower module (see docs/architecture.md)"
    )


# -- the contract ---------------------------------------------------------------------------


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = sorted(name for name in modules() if layer_of(name) is None)
    assert not unplaced, (
        f"modules in no layer: {', '.join(unplaced)}; add each to LAYERS in "
        "tests/unit/test_layers.py and to the module map in docs/architecture.md"
    )


def test_no_module_imports_a_higher_layer() -> None:
    problems = upward(all_imports())
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_no_runtime_import_cycle_between_modules() -> None:
    runtime = [i for i in all_imports() if i.kind in RUNTIME]
    found = cycles((i.importer, i.imported) for i in runtime)
    assert not found, _describe(found, runtime, lambda module: module)


def test_no_runtime_import_cycle_between_packages() -> None:
    runtime = [i for i in all_imports() if i.kind in RUNTIME]
    found = cycles((top_package(i.importer), top_package(i.imported)) for i in runtime)
    assert not found, _describe(found, runtime, top_package)


# -- the checker itself, on small made-up packages -------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "conveyor"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "schedules/__init__.py": "",
        "schedules/slots.py": "",
        "why.py": (
            "from typing import TYPE_CHECKING\n"
            "import conveyor.errors\n"
            "from conveyor.schedules import slots\n"
            "from . import errors\n"
            "if TYPE_CHECKING:\n    from conveyor.app import Conveyor\n"
            "def f():\n    from conveyor.web import app\n"
        ),
    })
    found = {(i.imported, i.kind) for i in all_imports(root)}
    assert found == {
        ("conveyor.errors", "module"),
        ("conveyor.schedules.slots", "module"),
        ("conveyor.app", "type"),
        ("conveyor.web", "function"),
    }


@pytest.mark.parametrize("kind", ["module", "function", "type"])
def test_an_upward_import_is_named_with_both_layers(kind: str) -> None:
    problems = upward([Import("conveyor.models", "conveyor.app", 7, kind)])
    assert problems == [
        "conveyor.models (layer 0 'base') imports conveyor.app (layer 2 'core app') at line 7 "
        f"({kind}-level): move the shared part down to a lower layer, or call up through the app"
    ]
    assert upward([Import("conveyor.web.api", "conveyor.store.protocol", 1, kind)]) == []


def test_a_cycle_is_found_and_a_chain_is_not() -> None:
    assert cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert cycles([("a", "b"), ("b", "c"), ("a", "c")]) == []


def test_the_longest_prefix_places_a_module() -> None:
    assert layer_of("conveyor.schedules.scheduler") == 3
    assert layer_of("conveyor.schedules.timing") == 2
    assert layer_of("conveyor.store.sqlite.store") == 1
    assert layer_of("conveyor") == 2
    assert layer_of("elsewhere") is None
    assert layer_of("conveyor.not_placed_yet") is None
