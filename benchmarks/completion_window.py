"""How long a finished job's completion waits before it is durable (issue 11, item 1).

Each job returns ``time.time()`` taken just before its handler returns; the store writes
``finished_at`` from its own clock (the same machine's) inside the transaction that records
the completion. ``finished_at - result`` is the window in which a dying process would lose a
success. Runs a real worker (burst mode) over N jobs on a fresh SQLite file or PostgreSQL
database, for each of two loads: one slot (jobs back to back) and 50 slots.

    .venv/bin/python benchmarks/completion_window.py [--jobs 2000] [--pg-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).parent
APP = '''
import time
from conveyor import Conveyor
app = Conveyor()

@app.job(name="stamp", queue="window")
async def stamp(ctx, i: int) -> float:
    return time.time()
'''


def measure(url: str, jobs: int, concurrency: int, folder: Path) -> dict[str, float]:
    """Run ``jobs`` stamp jobs through a burst worker; return window percentiles in ms."""
    (folder / "windowapp.py").write_text(APP)
    env = dict(os.environ, CONVEYOR_URL=url, PYTHONPATH=str(folder))
    sys.path.insert(0, str(folder))
    os.environ["CONVEYOR_URL"] = url
    import windowapp  # type: ignore[import-not-found]

    app = windowapp.app
    app.jobs["stamp"].enqueue_many([{"i": i} for i in range(jobs)])  # type: ignore[attr-defined]
    config = {"processes": 1, "concurrency": concurrency, "burst": True}
    subprocess.run(
        [sys.executable, "-c",
         "import json, sys\nfrom conveyor.worker import WorkerConfig, run_worker\n"
         "sys.exit(run_worker('windowapp:app', WorkerConfig(**json.loads(sys.argv[1]))))",
         json.dumps(config)],
        env=env, check=True, timeout=600,
    )
    from conveyor.store.protocol import JobFilter

    done = app.store.list_jobs(JobFilter(limit=jobs + 10))
    windows = sorted((j.finished_at - j.result) * 1000 for j in done if j.finished_at)
    app.close()
    del sys.modules["windowapp"]
    sys.path.remove(str(folder))
    q = statistics.quantiles(windows, n=100)
    return {"n": len(windows), "p50_ms": q[49], "p99_ms": q[98], "max_ms": windows[-1]}


def main() -> None:
    """Measure both stores at both loads and print one JSON line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for store in ("sqlite", "postgres"):
        for concurrency in (1, 50):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                if store == "sqlite":
                    result = measure(f"sqlite:///{folder / 'w.db'}", args.jobs, concurrency,
                                     folder)
                else:
                    name = f"conveyor_window_{os.getpid()}_{concurrency}"
                    with psycopg.connect(args.pg_url, autocommit=True) as admin:
                        admin.execute(f'CREATE DATABASE "{name}"')
                    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
                    try:
                        result = measure(url, args.jobs, concurrency, folder)
                    finally:
                        time.sleep(0.5)
                        with psycopg.connect(args.pg_url, autocommit=True) as admin:
                            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(json.dumps({"store": store, "concurrency": concurrency, **result}), flush=True)


if __name__ == "__main__":
    main()
