"""What pipeline runs cost the store, in-process (no workers): the store side of issue 13.

Run from the repository root: ``.venv/bin/python benchmarks/store_runs.py [URL]`` (default a
fresh SQLite file; pass a PostgreSQL URL of an empty database to measure it). Prints medians
and p99 of:

- plain: claim one plain job and complete it (the baseline);
- hand-off: claim a run's first stage job and complete it, which inserts the next stage's job
  in the same transaction, then claim that job;
- fan-out: expand_stage writing 10,000 items (jobs and item rows);
- fan-in: completing the last batch of 1,000 items of that stage, which fires the collector.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from conveyor.store import open_store
from conveyor.store.contract.run_records import JobTemplate, NewRun, NewStage
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, NewJob

Q = "bench"


def stage(name: str, *parents: str, fan_out: bool = False) -> NewStage:
    return NewStage(name, JobTemplate(Q, f"p.{name}", 1), parents, fan_out)


def claim(store, name: str, limit: int = 1):  # type: ignore[no-untyped-def]
    return store.claim_jobs(ClaimParams("bench", (Q,), (name,), limit, 60.0))


def done(job, in_run: bool = True) -> Completion:  # type: ignore[no-untyped-def]
    return Completion(job.id, job.token, CompletionKind.SUCCEEDED, "1", in_run=in_run)


def pct(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"p50 {statistics.median(xs) * 1000:.2f} ms, p99 {xs[int(len(xs) * 0.99)] * 1000:.2f} ms"


def main() -> None:
    """Parse the arguments, measure, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "url", nargs="?", help="PostgreSQL URL of an empty database (default: a new SQLite file)"
    )
    url = parser.parse_args().url or f"sqlite:///{tempfile.mkdtemp()}/runs.db"
    store = open_store(url)
    rounds = 300
    plain, handoff = [], []
    for _ in range(rounds):
        store.insert_jobs([NewJob(Q, "plain", "{}", 1)])
        t = time.perf_counter()
        [job] = claim(store, "plain")
        store.complete_jobs([done(job, in_run=False)])
        plain.append(time.perf_counter() - t)
        store.start_run(NewRun("p", "{}", (stage("a"), stage("b", "a"))))
        t = time.perf_counter()
        [job] = claim(store, "p.a")
        store.complete_jobs([done(job)])
        [nxt] = claim(store, "p.b")
        handoff.append(time.perf_counter() - t)
        store.complete_jobs([done(nxt)])
    print(f"plain claim+complete:        {pct(plain)}")
    print(f"hand-off (complete a, claim b): {pct(handoff)}")
    writes, fan_ins = [], []
    for _ in range(3):
        store.start_run(NewRun("p", "{}", (stage("a"), stage("e", "a", fan_out=True),
                                           stage("f", "e"))))
        [job] = claim(store, "p.a")
        store.complete_jobs([done(job)])
        [expander] = claim(store, "p.e")
        items = [json.dumps(i) for i in range(10_000)]
        t = time.perf_counter()
        assert store.expand_stage(expander.id, expander.token, items)
        writes.append(time.perf_counter() - t)
        while batch := claim(store, "p.e", 1_000):
            t = time.perf_counter()
            store.complete_jobs([done(j) for j in batch])
            last = time.perf_counter() - t
        fan_ins.append(last)
        [collector] = claim(store, "p.f")
        store.complete_jobs([done(collector)])
    print(f"fan-out of 10,000 (expand_stage): median {statistics.median(writes):.2f} s")
    print(f"fan-in (last 1,000 completions + collector): median "
          f"{statistics.median(fan_ins) * 1000:.0f} ms")
    store.close()


if __name__ == "__main__":
    main()
