"""The run verbs of :class:`~conveyor.store.threaded.ThreadedAsyncStore`: each runs the sync
verb on the store's thread (see :mod:`conveyor.store.contract.runs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from conveyor.store import run_plans
from conveyor.store.contract.run_records import (
    NewRun,
    RunDetail,
    RunFilter,
    RunReset,
    RunSummary,
    StageInput,
    StageOutputPage,
)

if TYPE_CHECKING:
    from conveyor.store.protocol import Store

T = TypeVar("T")


class ThreadedRunVerbs:
    """:class:`~conveyor.store.contract.runs.AsyncRunVerbs` over a sync store's thread."""

    if TYPE_CHECKING:  # provided by ThreadedAsyncStore
        _store: Store

        async def _run(self, fn: Callable[[], T]) -> T: ...

    async def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.start_run`. With
        ``connection``, runs inline: the caller's connection belongs to the caller's thread."""
        if connection is not None:
            return self._store.start_run(run, connection=connection, now=now)
        return await self._run(lambda: self._store.start_run(run, now=now))

    async def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage`: one trip to the
        store's thread per part, so the heartbeat's renewals run between parts instead of
        waiting behind the whole fan-out (they would, on a slow box, outlast the lease)."""
        return await run_plans.expand_all_async(
            lambda: self.expand_stage_part(job_id, token, items_json, now=now), len(items_json)
        )

    async def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage_part`."""
        return await self._run(
            lambda: self._store.expand_stage_part(job_id, token, items_json, now=now)
        )

    async def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_input`."""
        return await self._run(lambda: self._store.stage_input(stage_run_id, item))

    async def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.get_run`."""
        return await self._run(lambda: self._store.get_run(run_id, outputs=outputs))

    async def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.list_runs`."""
        return await self._run(lambda: self._store.list_runs(flt))

    async def cancel_run(
        self, run_id: int, *, by: str | None = None, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.cancel_run`."""
        return await self._run(lambda: self._store.cancel_run(run_id, by=by, now=now))

    async def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.reset_run`."""
        return await self._run(lambda: self._store.reset_run(reset, now=now))

    async def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.save_step`."""
        return await self._run(lambda: self._store.save_step(job_id, token, name, value_json))

    async def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_output_page`."""
        return await self._run(
            lambda: self._store.stage_output_page(run_id, stage, offset, limit)
        )

    async def load_steps(self, job_id: int) -> dict[str, str]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.load_steps`."""
        return await self._run(lambda: self._store.load_steps(job_id))
