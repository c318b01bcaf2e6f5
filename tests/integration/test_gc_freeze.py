"""A worker process freezes what its start-up made (``gc.freeze()``, decision 121); a drain,
which runs in the caller's process, freezes nothing."""

from __future__ import annotations

import gc

from conveyor.models import JobState
from conveyor.testing import drain

from .conftest import Workers, load_itapp


def test_worker_processes_freeze_their_start_up_and_drains_do_not(workers: Workers) -> None:
    app = load_itapp(f"gc_{workers.backend}", "gcapp")
    try:
        before = gc.get_freeze_count()
        here = app.enqueue("frozen_objects")
        assert drain(app).succeeded == 1
        assert gc.get_freeze_count() == before
        assert app.store.get_job(here.id).result == before  # type: ignore[union-attr]

        there = app.enqueue("frozen_objects")
        workers.start("gcapp:app", processes=1, concurrency=2)
        done = workers.wait_state(there.id, JobState.SUCCEEDED, timeout=30)
        # The app, its imports and the worker's own objects: tens of thousands.
        assert done.result > 10_000
    finally:
        app.close()
