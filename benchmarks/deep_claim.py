"""The store's claim+complete throughput with a deep queue (default a million jobs), in-process.

Run from the repository root: ``.venv/bin/python benchmarks/deep_claim.py [ROWS]``. It bulk-
enqueues ROWS no-op jobs into a fresh SQLite file (or ``DEEP_URL``), then claims 50 and completes
them in a loop for 15 s, and prints the insert rate and the claim+complete rate. For an A/B,
export each commit (``git archive REV | tar -x -C DIR``) and run it with ``PYTHONPATH=DIR``
from DIR, interleaving the sides.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, "benchmarks")
import benchapp

from conveyor.store.protocol import ClaimParams, Completion, CompletionKind

d = tempfile.mkdtemp(dir="/var/tmp")
url = os.environ.get("DEEP_URL") or f"sqlite:///{d}/deep.db"
app = benchapp.build(url)
job = app.get(benchapp.ASYNC_JOB)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
t = time.perf_counter()
for start in range(0, N, 20_000):
    job.enqueue_many([{"i": i} for i in range(start, min(N, start + 20_000))])
ins = time.perf_counter() - t
store = app.store
params = ClaimParams("deep-1", (benchapp.QUEUE,), (benchapp.ASYNC_JOB,), 50, 60.0)
done = 0
t = time.perf_counter()
while time.perf_counter() - t < 15:
    jobs = store.claim_jobs(params)
    store.complete_jobs(
        [Completion(j.id, j.token, CompletionKind.SUCCEEDED, result_json="null") for j in jobs]
    )
    done += len(jobs)
el = time.perf_counter() - t
print(f"rows={N} insert={N/ins:.0f}/s claim+complete={done/el:.0f} jobs/s")
