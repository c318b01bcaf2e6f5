"""Batched completion: outcomes are buffered and written in one transaction per batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator

from conveyor.errors import StoreError, StoreUnavailableError
from conveyor.store.protocol import AsyncStore, ClaimRound, Completion, CompletionResult

log = logging.getLogger("conveyor.worker")

FLUSH_INTERVAL = 0.005
MAX_BATCH = 100
MAX_RETRY_PAUSE = 5.0


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a claim that raised ``exc`` may have committed all the same.

    Only a store's refusal (a :class:`StoreError` that is not :class:`StoreUnavailableError`:
    the statement failed, the transaction rolled back) says it did not. A broken connection
    or a restarted server can strike after the COMMIT was applied and before its answer
    arrived; any other error (a cancellation, a bug in reading the answer) may come after the
    commit too.
    """
    return isinstance(exc, StoreUnavailableError) or not isinstance(exc, StoreError)


class Completer:
    """Collects completions and flushes them every few milliseconds or at ``MAX_BATCH``.

    The claim loop writes what is pending with its next claim (:meth:`claim_with`), so a
    completion is durable before the process starts another job; the background flush
    covers completions that arrive while no claim is due.

    A completion is never dropped: when the store is unavailable the batch stays buffered and
    is retried with backoff, at most ``max_pause`` apart (the worker keeps that below its
    rescue interval), while the heartbeat keeps renewing the leases of pending completions.
    (If the process dies first, the lease lapses and the rescuer re-runs the job:
    at-least-once.)

    Claims are serialised here too, so it also owns what a claim of unknown outcome leaves
    behind (decision 123): after one, the next claim first asks the store to hand back
    (``release_unheld``, uncharged) every job running under ``worker_id`` that is neither
    among ``running()`` (the attempts the process runs, as (id, token) pairs) nor pending
    here. No claim is in flight meanwhile, so nothing it is about to hear of is released.
    """

    name = "completer"

    def __init__(
        self,
        store: AsyncStore,
        *,
        max_pause: float = MAX_RETRY_PAUSE,
        worker_id: str | None = None,
        running: Callable[[], Iterable[tuple[int, int]]] = tuple,
    ) -> None:
        self.store = store
        self.pending: list[Completion] = []
        self.refused = 0
        self.max_pause = max_pause
        self.worker_id = worker_id
        self.running = running
        self.unsure = False
        """True from a claim whose outcome is unknown until its jobs are settled."""
        self.released = 0
        """Jobs handed back after claims of unknown outcome (for logs and tests)."""
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._claims = 0
        """Claims coming, in flight or waiting for :attr:`_flushing` (:meth:`claiming`)."""

    def held(self) -> dict[int, int]:
        """Job id -> token of every completion not yet written (its lease must be renewed)."""
        return {c.job_id: c.token for c in self.pending}

    def add(self, completion: Completion) -> None:
        """Queue a completion for the next flush."""
        self.pending.append(completion)
        self._wake.set()

    async def flush(self) -> None:
        """Write everything pending now; raise :class:`StoreUnavailableError` if it cannot."""
        async with self._flushing:  # one batch in flight, so none is written twice
            while self.pending:
                await self._write_batch()

    async def _write_batch(self) -> None:
        batch = self.pending[:MAX_BATCH]
        results = await self.store.complete_jobs(batch)
        del self.pending[: len(batch)]
        self._report(results)

    async def claim_with(
        self, claim: Callable[[list[Completion]], Awaitable[ClaimRound]]
    ) -> ClaimRound:
        """Run ``claim`` (a ``complete_and_claim``) carrying everything pending.

        What the claim carries is written in its transaction, so no job it returns can start
        before the completions before it are durable. A failed claim leaves them pending;
        one whose outcome is unknown is settled (:meth:`settle`) before the next claim runs.
        """
        with self.claiming():
            return await self._claim_with(claim)

    @contextlib.contextmanager
    def claiming(self) -> Iterator[None]:
        """Mark a claim as coming (the claim loop gathering slots for it) or in flight: the
        background flush defers to it, since the claim will carry what is pending."""
        self._claims += 1
        try:
            yield
        finally:
            self._claims -= 1

    async def _claim_with(
        self, claim: Callable[[list[Completion]], Awaitable[ClaimRound]]
    ) -> ClaimRound:
        async with self._flushing:
            await self._settle()
            while len(self.pending) > MAX_BATCH:
                await self._write_batch()
            batch = self.pending[:]
            try:
                round_ = await claim(batch)
            except BaseException as exc:
                # Its jobs, if it committed, are running under this worker and nobody here
                # knows them: the heartbeat would not renew them, and the rescuer would
                # charge them an attempt that never ran once their lease lapsed.
                self.unsure = self.unsure or outcome_unknown(exc)
                raise
            del self.pending[: len(batch)]
            self._report(round_.completed)
            return round_

    async def settle(self) -> None:
        """After a claim of unknown outcome, hand back what it may have claimed; a no-op
        otherwise. Raises :class:`StoreUnavailableError` if the store cannot be reached (the
        claim stays unsettled, and the next claim tries again first)."""
        async with self._flushing:
            await self._settle()

    async def _settle(self) -> None:
        # Called with the claims' lock held: no claim is in flight, so every job running
        # under this worker is either one it knows (running, or finished with its completion
        # pending) or one of a claim whose answer was lost.
        if not self.unsure or self.worker_id is None:
            return
        held = {*self.running(), *((c.job_id, c.token) for c in self.pending)}
        released = await self.store.release_unheld(self.worker_id, sorted(held))
        self.unsure = False
        self.released += len(released)
        if released:
            log.warning(
                "handed back %d jobs a claim took while its answer was lost (not charged): %s",
                len(released),
                released[:20],
            )

    def _report(self, results: list[CompletionResult]) -> None:
        for result in results:
            if not result.accepted:
                # The attempt lost its lease (or the job was cancelled) meanwhile: the
                # fencing token kept this late write from changing anything.
                self.refused += 1
                log.warning(
                    "completion of job %s refused: the attempt no longer holds the job",
                    result.job_id,
                )

    async def run(self, stop: asyncio.Event) -> None:
        """Flush in the background until ``stop`` is set (then the owner calls drain)."""
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if stop.is_set():
                return  # the owner drains what is left
            if len(self.pending) < MAX_BATCH:
                await asyncio.sleep(FLUSH_INTERVAL)  # let a batch gather
            while self._claims and len(self.pending) < MAX_BATCH and not stop.is_set():
                # A claim is in flight: the claim loop claims again as soon as it is back
                # (when a slot is free), carrying what is pending. A flush now would cost a
                # transaction of its own and leave that claim with nothing to carry: on a
                # busy SQLite file, where a claim waits for the write lock longer than
                # FLUSH_INTERVAL, half the rounds were a flush and a bare claim.
                await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await self.flush()
                failures = 0
            except StoreUnavailableError as exc:
                failures += 1
                log.warning("could not write %d completions, retrying: %s", len(self.pending), exc)
                await asyncio.sleep(self._pause(failures))
                self._wake.set()
            except Exception:
                failures += 1
                log.exception("completer failed; retrying")
                await asyncio.sleep(self._pause(failures))
                self._wake.set()

    def _pause(self, failures: int) -> float:
        return min(self.max_pause, 0.05 * 2.0 ** min(failures, 16))

    def close(self) -> None:
        """Wake :meth:`run` so it notices its stop event."""
        self._wake.set()

    async def drain(self, attempts: int = 20) -> bool:
        """Flush what is left at shutdown, retrying a while; True when nothing is left."""
        for attempt in range(attempts):
            try:
                await self.flush()
                return True
            except StoreUnavailableError as exc:
                log.warning("shutdown flush failed (%s); retry %d", exc, attempt + 1)
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        log.error(
            "%d completions could not be written; their leases will lapse and the jobs will "
            "run again",
            len(self.pending),
        )
        return False
