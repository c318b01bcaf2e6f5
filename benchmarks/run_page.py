"""What reading a large run costs the dashboard: the run page, its JSON and its `why`.

Run from the repository root::

    .venv/bin/python benchmarks/run_page.py                      # this tree, both stores
    .venv/bin/python benchmarks/run_page.py --before /tmp/base   # before/after (decision 109)

Each measuring process builds, on a fresh SQLite file or a fresh PostgreSQL database (created
on 127.0.0.1:5432 as user postgres and dropped after), two runs of
``fetch -> embed (fan-out of 10,000 items, policy skip) -> index``:

- *running*: 9,997 items finished (2 of them failed), so ``index`` waits for the last 3;
- *finished*: every item finished (2 failed) and ``index`` succeeded, so ``embed``'s output
  is the list of 9,998 item outputs (~240 kB).

Then, in ``--reads`` interleaved rounds (each round reads every target once, in process
through the ASGI app, no network), it takes the median wall time, CPU time of the process
(``time.process_time``: every thread, so the store's thread pool too) and response bytes of
``GET /runs/{id}`` (the page), ``GET /api/runs/{id}`` (the JSON) and ``explain_run``.

``--before DIR`` compares with another version of the package: ``DIR`` holds its
``conveyor/`` (e.g. ``git archive BASE conveyor | tar -x -C DIR``). Measuring processes of
the two versions alternate (``--processes`` of each per store, the order flipped every
round), and the table gives the median over processes of their medians, and after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Q = "bench"
ITEMS = 10_000
TOKEN = "bench-token-for-the-run-page-0001"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGETS = ("page running", "api running", "page finished", "api finished", "why running")


def build(app: Any, finish: bool, floats: int = 2) -> int:
    """One run with all but 3 items of its fan-out finished (2 failed); with ``finish``,
    every item finished and the fan-in stage too. Each item's output is
    ``{"values": [...]}`` of ``floats`` numbers (2: 24 bytes; 128: an embedding, ~1 kB)."""
    from conveyor.store.contract.run_records import ItemPolicy, JobTemplate, NewRun, NewStage
    from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, ErrorInfo

    pipeline = "done" if finish else "open"  # its own job names: claims stay in this run

    def stage(name: str, *parents: str, fan_out: bool = False) -> NewStage:
        return NewStage(name, JobTemplate(Q, f"{pipeline}.{name}", 1), parents, fan_out,
                        ItemPolicy.SKIP)

    store = app.store
    run_id = store.start_run(NewRun(pipeline, json.dumps({"doc": 7}), (
        stage("fetch"), stage("embed", "fetch", fan_out=True), stage("index", "embed"))))

    def claim(name: str, limit: int) -> list[Any]:
        return store.claim_jobs(ClaimParams("bench", (Q,), (f"{pipeline}.{name}",), limit,
                                            600.0))

    def ok(job: Any, result: str) -> Any:
        return Completion(job.id, job.token, CompletionKind.SUCCEEDED, result_json=result,
                          in_run=True)

    [fetch] = claim("fetch", 1)
    store.complete_jobs([ok(fetch, json.dumps(list(range(ITEMS))))])
    [expander] = claim("embed", 1)
    assert store.expand_stage(expander.id, expander.token, [str(i) for i in range(ITEMS)])
    output = json.dumps({"values": [0.5, 0.25] * (floats // 2) + [0.125] * (floats % 2)})
    left, failures = (ITEMS if finish else ITEMS - 3), 2
    while left > 0:
        done = []
        for job in claim("embed", min(1000, left)):
            if failures:
                failures -= 1
                done.append(Completion(job.id, job.token, CompletionKind.DEAD, in_run=True,
                                       error=ErrorInfo("ValueError", "bad item")))
            else:
                done.append(ok(job, output))
        store.complete_jobs(done)
        left -= len(done)
    if finish:
        [index] = claim("index", 1)
        store.complete_jobs([ok(index, json.dumps({"rows": ITEMS - 2}))])
    return run_id


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL of ``kind``, dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    name = f"bench_run_page_{os.getpid()}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def measure(kind: str, reads: int, floats: int) -> dict[str, dict[str, float]]:
    """Medians (wall ms, CPU ms, bytes) of every target, read ``reads`` interleaved rounds."""
    import httpx

    from conveyor import Conveyor
    from conveyor.web import create_app
    from conveyor.why import explain_run

    with database(kind) as url:
        app = Conveyor(url)
        try:
            app.store.migrate()
            running, finished = build(app, False, floats), build(app, True, floats)
            web = create_app(app, tokens={TOKEN: "admin"})
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web),
                                       base_url="http://bench",
                                       headers={"Authorization": f"Bearer {TOKEN}"})

            def get(path: str) -> Callable[[], int]:
                def fetch() -> int:
                    response = asyncio.run(client.get(path))
                    assert response.status_code == 200, response.text[:300]
                    return len(response.content)
                return fetch

            def why() -> int:
                return len(json.dumps([r.message for r in explain_run(app, running)]))

            targets = dict(zip(TARGETS, (
                get(f"/runs/{running}"), get(f"/api/runs/{running}"),
                get(f"/runs/{finished}"), get(f"/api/runs/{finished}"), why,
            ), strict=True))
            page = asyncio.run(client.get(f"/runs/{running}")).text.replace("&#96;", "`")
            assert "waiting for 3 of 10,000 items of `embed`; 2 failed" in page
            samples: dict[str, list[tuple[float, float, int]]] = {t: [] for t in TARGETS}
            for _ in range(reads):
                for name, fn in targets.items():
                    wall, cpu = time.perf_counter(), time.process_time()
                    size = fn()
                    samples[name].append(((time.perf_counter() - wall) * 1000,
                                          (time.process_time() - cpu) * 1000, size))
            return {name: {"wall_ms": statistics.median(s[0] for s in got),
                           "cpu_ms": statistics.median(s[1] for s in got),
                           "bytes": statistics.median(s[2] for s in got)}
                    for name, got in samples.items()}
        finally:
            app.close()


def child(kind: str, reads: int, floats: int, before: str | None) -> dict[str, Any]:
    """Run :func:`measure` in a new process, with ``before`` first on its path if given."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if before is not None:
        env["PYTHONPATH"] = before
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--reads", str(reads), "--floats",
         str(floats)],
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"a measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def compare(stores: list[str], before: str, processes: int, reads: int, floats: int) -> None:
    """Alternate measuring processes of the two versions; print medians and ratios."""
    print(f"load average before: {os.getloadavg()}")
    for kind in stores:
        got: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for round_ in range(processes):
            order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            for which in order:
                got[which].append(child(kind, reads, floats,
                                        before if which == "before" else None))
        print(f"\nstore: {kind}; {processes} processes of each version, {reads} reads each, "
              f"{floats} floats an item output; medians", flush=True)
        print(f"{'target':<15} {'wall ms before/after':>22} {'cpu ms before/after':>22} "
              f"{'bytes before/after':>22} {'cpu after/before':>17}")
        for target in TARGETS:
            row = {w: {k: statistics.median(r[target][k] for r in got[w])
                       for k in ("wall_ms", "cpu_ms", "bytes")} for w in got}
            b, a = row["before"], row["after"]
            print(f"{target:<15} {b['wall_ms']:>10.1f} /{a['wall_ms']:>9.1f} "
                  f"{b['cpu_ms']:>10.1f} /{a['cpu_ms']:>9.1f} "
                  f"{b['bytes']:>10,.0f} /{a['bytes']:>9,.0f} "
                  f"{a['cpu_ms'] / b['cpu_ms']:>17.2f}", flush=True)
    print(f"\nload average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--before", metavar="DIR", help="compare with the package in DIR")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--reads", type=int, default=10)
    parser.add_argument("--floats", type=int, default=2,
                        help="numbers in each item output (2: 24 bytes, 128: ~1 kB)")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.reads, args.floats)))
        return
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if args.before:
        compare(stores, args.before, args.processes, args.reads, args.floats)
        return
    for kind in stores:
        print(f"store: {kind}; one run of each kind, fan-out of {ITEMS:,} items; medians of "
              f"{args.reads} interleaved reads", flush=True)
        for target, row in measure(kind, args.reads, args.floats).items():
            print(f"  {target:<15} {row['wall_ms']:8.1f} ms wall {row['cpu_ms']:8.1f} ms CPU "
                  f"{row['bytes']:>10,.0f} bytes")


if __name__ == "__main__":
    main()
