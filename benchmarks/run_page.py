"""What reading a large run costs the dashboard: the run page, its JSON and its `why`.

Run from the repository root: ``.venv/bin/python benchmarks/run_page.py [URL]`` (default a
fresh SQLite file; pass a PostgreSQL URL of an empty database to measure it). Builds one run
of ``fetch -> embed (fan-out of 10,000 items) -> index`` with 9,997 items finished (2 of them
failed, policy skip), so ``index`` waits for the last 3; then prints the median and max of
10 reads, in process through the ASGI app (no network):

- ``GET /runs/{id}``: the page (graph, table, what each stage waits for);
- ``GET /api/runs/{id}``: the JSON (every item output of ``embed``);
- ``explain_run``: the why alone (finds the next waiting item among 10,000 job ids).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import httpx

from conveyor import Conveyor
from conveyor.store.contract.run_records import ItemPolicy, JobTemplate, NewRun, NewStage
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, ErrorInfo
from conveyor.web import create_app
from conveyor.why import explain_run

Q = "bench"
ITEMS = 10_000
TOKEN = "bench-token-for-the-run-page-0001"


def stage(name: str, *parents: str, fan_out: bool = False) -> NewStage:
    return NewStage(name, JobTemplate(Q, f"p.{name}", 1), parents, fan_out, ItemPolicy.SKIP)


def build(app: Conveyor) -> int:
    """The run, with all but 3 items of its fan-out finished (2 failed)."""
    store = app.store
    run_id = store.start_run(NewRun("p", json.dumps({"doc": 7}), (
        stage("fetch"), stage("embed", "fetch", fan_out=True), stage("index", "embed"))))

    def claim(name: str, limit: int) -> list:  # type: ignore[type-arg]
        return store.claim_jobs(ClaimParams("bench", (Q,), (f"p.{name}",), limit, 600.0))

    [fetch] = claim("fetch", 1)
    store.complete_jobs([Completion(fetch.id, fetch.token, CompletionKind.SUCCEEDED,
                                    result_json=json.dumps(list(range(ITEMS))), in_run=True)])
    [expander] = claim("embed", 1)
    assert store.expand_stage(expander.id, expander.token, [str(i) for i in range(ITEMS)])
    left, failures = ITEMS - 3, 2
    while left > 0:
        done = []
        for job in claim("embed", min(1000, left)):
            if failures:
                failures -= 1
                done.append(Completion(job.id, job.token, CompletionKind.DEAD, in_run=True,
                                       error=ErrorInfo("ValueError", "bad item")))
            else:
                done.append(Completion(job.id, job.token, CompletionKind.SUCCEEDED,
                                       in_run=True, result_json='{"values": [0.5, 0.25]}'))
        store.complete_jobs(done)
        left -= len(done)
    return run_id


def timed(fn: Callable[[], object], rounds: int = 10) -> str:
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begin) * 1000)
    return f"median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms"


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = Conveyor(url)
    app.store.migrate()
    run_id = build(app)
    web = create_app(app, tokens={TOKEN: "admin"})
    async_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web),
                                     base_url="http://bench",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    def get(path: str) -> Callable[[], object]:
        def fetch() -> object:
            response = asyncio.run(async_client.get(path))
            assert response.status_code == 200, response.text[:300]
            return response
        return fetch

    page = get(f"/runs/{run_id}")()
    assert "waiting for 3 of 10,000 items of `embed`; 2 failed" in page.text.replace(  # type: ignore[attr-defined]
        "&#96;", "`")
    print(f"store: {url.split(':')[0]}, one run, fan-out of {ITEMS:,} items, 3 left")
    print(f"GET /runs/{{id}}      {timed(get(f'/runs/{run_id}'))}")
    print(f"GET /api/runs/{{id}}  {timed(get(f'/api/runs/{run_id}'))}")
    print(f"explain_run          {timed(lambda: explain_run(app, run_id))}")
    app.close()


if __name__ == "__main__":
    main()
