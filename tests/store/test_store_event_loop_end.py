"""Conformance: an event loop may end without ``await app.aclose()``.

The PostgreSQL async store keeps a connection pool per event loop. psycopg's pool swallows a
cancellation that reaches one of its worker tasks mid-job (a connection being opened), so when
``asyncio.run()`` ended and cancelled every task, the worker went back to waiting for work and
the run never returned. The store now closes its pool when the loop cancels its tasks. The
scenario runs in a child process, under a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conveyor.store import Store

SCENARIO = textwrap.dedent(
    """
    import asyncio, sys
    from conveyor import Conveyor

    app = Conveyor(sys.argv[1])
    app.store  # the sync store (and its migration) first: the scenario is the async reads

    async def reads() -> None:
        # Concurrent reads make the pool grow: new connections are opened by its background
        # workers, and some are still being opened when the loop ends.
        await asyncio.gather(*(app.async_store.get_job(1) for _ in range(8)))

    for _ in range(int(sys.argv[2])):
        asyncio.run(reads())  # no `await app.aclose()`: the loop ends with the pool open
    app.close()
    print("finished")
    """
)


def test_asyncio_run_ends_without_aclose(store: Store, store_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, store_url, "25"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "finished"
