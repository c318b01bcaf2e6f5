"""Every Python block of the README and the guides runs as written, so a snippet that raises
``NameError`` (or no longer fits the API) cannot ship.

A page's blocks run in order in one namespace, like a notebook, in a fresh folder with
``CONVEYOR_URL`` at a new SQLite file there. Markers in HTML comments just above a block (not
shown on the site) say how it is meant to be used:

- ``<!-- file: NAME -->``: the block is the file NAME (``myapp.py``); it is written to the
  folder, where later blocks import it.
- ``<!-- docs-test: worker -->``: a worker runs, as the text around the block has the reader
  start one: every app in sight is drained first, and the block runs with the apps in inline
  test mode, so what it enqueues runs at once.
- ``<!-- docs-test: skip REASON -->``: the block only illustrates (it needs a server, another
  framework, or stands for part of the reader's own code); it is compiled, not run. A reason
  is required.
- ``<!-- docs-test: prelude ... -->``: code run before the page's first block: what the page
  assumes the reader has (``app = Conveyor()``), kept off the page itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.store.postgres.migrate import LATEST_VERSION as POSTGRES_LATEST_VERSION
from conveyor.store.sqlite.connection import LATEST_VERSION
from conveyor.testing import drain

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(p for p in (ROOT / "docs").glob("*.md") if p.name != "pipelines.md")]
)
"""Every page but pipelines.md, whose examples tests/integration/test_pipeline_docs.py runs
with the checks of their outcomes."""
BLOCK = re.compile(
    r"(?:<!-- (?P<mark>[^\n]*?) -->\n[ \t]*)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S
)
"""A fenced block, with the marker line above it if any (both indented in a list item)."""
PRELUDE = re.compile(r"<!-- docs-test: prelude\n(?P<code>.*?)-->", re.S)


def _apps(namespace: dict[str, Any], folder: Path) -> list[Conveyor]:
    """Every app the page has made: in its namespace, and in the modules it wrote."""
    found = [v for v in namespace.values() if isinstance(v, Conveyor)]
    for module in list(sys.modules.values()):
        if str(getattr(module, "__file__", "") or "").startswith(str(folder)):
            found += [v for v in vars(module).values() if isinstance(v, Conveyor)]
    unique: dict[int, Conveyor] = {id(app): app for app in found}
    return list(unique.values())


def _prometheus_collectors() -> set[object]:
    """The collectors of prometheus_client's process-wide registry (empty without the extra)."""
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        return set()
    return set(getattr(REGISTRY, "_collector_to_names", {}))


def _unregister_prometheus_collectors_since(before: set[object]) -> None:
    """Leave the process-wide registry as the page found it: a page's example registers
    metrics there (docs/observability.md), and a later test in the same process registering
    the same names would fail with ``DuplicateTimeseries``."""
    if not before and "prometheus_client" not in sys.modules:
        return
    from prometheus_client import REGISTRY

    for collector in _prometheus_collectors() - before:
        REGISTRY.unregister(collector)  # type: ignore[arg-type]  # a Collector


def _run(code: Any, namespace: dict[str, Any]) -> None:
    if code.co_flags & inspect.CO_COROUTINE:  # top-level await: run it on a loop of its own
        async def main() -> None:
            await eval(code, namespace)
            for app in [v for v in namespace.values() if isinstance(v, Conveyor)]:
                await app.aclose()

        asyncio.run(main())
    else:
        exec(code, namespace)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_pages_python_blocks_run_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = page.read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path / 'conveyor.db'}")
    monkeypatch.delenv("CONVEYOR_APP", raising=False)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    registered = _prometheus_collectors()
    prelude = PRELUDE.search(text)
    if prelude:
        exec(compile(prelude["code"], f"{page.name} (prelude)", "exec"), namespace)
    try:
        for match in BLOCK.finditer(text):
            if match["lang"] != "python":
                continue
            line = text[: match.start("body")].count("\n") + 1
            where = f"{page.relative_to(ROOT)}:{line}"
            mark = match["mark"] or ""
            source = textwrap.dedent(match["body"])
            if mark.startswith("file: "):
                name = mark.removeprefix("file: ").strip()
                (tmp_path / name).write_text(source)
                continue
            if mark.startswith("docs-test: skip"):
                assert mark.removeprefix("docs-test: skip").strip(), f"{where}: skip needs a reason"
                # Still compiled, as the body of a function: a fragment may ``return``.
                body = "async def _fragment():\n" + "".join(
                    f"    {line}" if line.strip() else line
                    for line in source.splitlines(keepends=True)
                )
                compile(body + "    pass\n", where, "exec")
                continue
            code = compile(source, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            with ExitStack() as worker:
                if mark == "docs-test: worker":
                    for app in _apps(namespace, tmp_path):
                        drain(app, skip_backoff=True)
                        worker.enter_context(app.testing(mode="inline"))
                try:
                    _run(code, namespace)
                except Exception as exc:
                    raise AssertionError(f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        for app in _apps(namespace, tmp_path):
            app.close()
        _unregister_prometheus_collectors_since(registered)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]


def test_the_schema_version_and_table_count_the_docs_give_are_the_real_ones(
    tmp_path: Path,
) -> None:
    import sqlite3

    from conveyor.store import open_store

    open_store(f"sqlite:///{tmp_path / 'c.db'}").close()
    conn = sqlite3.connect(tmp_path / "c.db")
    try:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'conveyor%'"
        ).fetchone()[0]
    finally:
        conn.close()
    words = {20: "twenty", 21: "twenty-one", 22: "twenty-two", 23: "twenty-three",
             24: "twenty-four", 25: "twenty-five", 26: "twenty-six", 27: "twenty-seven"}
    postgres = (ROOT / "docs" / "postgres.md").read_text()
    assert f"Conveyor creates {words.get(tables, tables)} tables" in postgres
    # Each store numbers its own migrations (SQLite has some PostgreSQL does not need).
    latest = {"sqlite": LATEST_VERSION, "postgresql": POSTGRES_LATEST_VERSION}
    for page in PAGES:
        for version, scheme in re.findall(r"schema version (\d+) at (\w+):", page.read_text()):
            assert int(version) == latest[scheme], f"{page.name} says schema version {version}"
