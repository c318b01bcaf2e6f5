"""The app of the collector test: a job that says how many objects its process froze."""

from __future__ import annotations

import gc

from conveyor import Conveyor

app = Conveyor()


@app.job(name="frozen_objects")
def frozen_objects(ctx: object) -> int:
    """The number of objects in the collector's permanent generation of this process."""
    return gc.get_freeze_count()
