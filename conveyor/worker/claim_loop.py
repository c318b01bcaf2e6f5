"""One worker process: the claim loop plus its services (completer, heartbeat, rescuer, pruner).

A process runs on one event loop. It claims only as many jobs as it has free slots, so nothing
is prefetched that it cannot start, and it claims only job names its app knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

from conveyor.app import Conveyor
from conveyor.errors import StoreUnavailableError
from conveyor.models import JobState, WorkerInfo
from conveyor.store.protocol import AsyncStore, ClaimParams, ClaimRound, Completion, JobFilter
from conveyor.worker.completer import MAX_RETRY_PAUSE, Completer
from conveyor.worker.config import WorkerConfig
from conveyor.worker.executor import Executor, Running, StopReason
from conveyor.worker.health import Progress, StampWriter
from conveyor.worker.heartbeat import Heartbeat, ProgressReporter
from conveyor.worker.joblog import JobLog
from conveyor.worker.metrics import worker_metrics
from conveyor.worker.periodic import sleep_or_stop
from conveyor.worker.pruner import Pruner
from conveyor.worker.recycle import Recycler
from conveyor.worker.rescuer import Rescuer
from conveyor.worker.usage import UsageMeter, UsageWriter

log = logging.getLogger("conveyor.worker")

EXIT_OK = 0
EXIT_REPLACE = 75
"""Exit code asking the supervisor for a fresh process (a sync job overran its timeout)."""

BURST_HORIZON = 5.0
"""In burst mode, wait for jobs due within this many seconds (e.g. quick retries)."""
REPLACE_DRAIN = 5.0
GATHER_SLOTS = 0.002
LISTENING_POLL_STRETCH = 5.0
"""How many poll intervals an idle worker waits while its store's LISTEN connection is live."""


async def _claim(
    store: AsyncStore, params: ClaimParams, completions: Sequence[Completion]
) -> ClaimRound:
    return await store.complete_and_claim(completions, params)


def queues_for(app: Conveyor, config: WorkerConfig) -> tuple[str, ...]:
    """The queues a worker serves: those configured, else every queue the app's jobs use."""
    if config.queues:
        return config.queues
    return tuple(sorted({job.options.queue for job in app.jobs.values()}))


def freeze_start_up() -> None:
    """Collect once, then move every object alive to the collector's permanent generation.

    A worker's start-up leaves hundreds of thousands of long-lived objects (the app, its
    imports, the SDKs of the extras); every full collection while jobs run walks them all
    again, and with many objects made per job (spans, log records, attempts) those come
    often. Frozen, they are never walked again; objects freed by their reference count still
    are at once. The collection first means no start-up garbage is kept; the price is that
    an object alive at start-up that later becomes unreachable only through a reference
    cycle is never freed (start-up's objects, the app and its modules, live as long as the
    process anyway). Objects made after start-up are collected as before.
    """
    gc.collect()
    gc.freeze()


class _Woken(Exception):
    """The claim loop was woken while it read the next due time: claim again now."""


class WorkerProcess:
    """The claim/execute loop of one process. ``run()`` returns the process's exit code."""

    def __init__(self, app: Conveyor, config: WorkerConfig, worker_id: str) -> None:
        self.app = app
        self.config = config
        self.worker_id = worker_id
        self.queues = queues_for(app, config)
        self.total_slots = config.total_slots
        # Every running job may hold a connection (ctx.transaction), plus the worker's own
        # claims, completions and heartbeats. Pools open connections only as needed.
        app.pool_size = max(app.pool_size or 0, config.total_slots + 4)
        self.names = tuple(sorted(app.jobs))
        self.limited_names = tuple(n for n in self.names if app.jobs[n].limited)
        self.exit_code = EXIT_OK
        self.claimed = 0
        self._stopping = False
        self._drain_deadline: float | None = None
        self._store: AsyncStore | None = None
        self._slot_freed: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._stop_services: asyncio.Event | None = None
        self._executor: Executor | None = None
        self._completer: Completer | None = None
        self._recycler = (
            Recycler(config.max_jobs_per_process, config.max_memory_mb)
            if config.max_jobs_per_process is not None or config.max_memory_mb is not None
            else None
        )
        self.progress = Progress(claim=time.monotonic())
        """When the claim loop and the heartbeat last made progress (for ``/livez``)."""
        self.freezes_start_up = False
        """Set by a worker process's entry point (never by ``drain``, which runs in the
        caller's process): once started, collect the garbage once and ``gc.freeze()`` what
        is left (see :func:`freeze_start_up`)."""

    # -- control ------------------------------------------------------------------------------

    def request_stop(self, *, immediate: bool = False, drain: float | None = None) -> None:
        """Stop claiming; running jobs get the drain timeout (or none when ``immediate``)."""
        window = 0.0 if immediate else (self.config.drain_timeout if drain is None else drain)
        deadline = time.monotonic() + window
        if self._drain_deadline is None or deadline < self._drain_deadline:
            self._drain_deadline = deadline
        if not self._stopping:
            log.info("worker %s stopping (drain %.1fs)", self.worker_id, window)
        self._stopping = True
        for event in (self._wake, self._slot_freed):
            if event is not None:
                event.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stopping

    def wake(self) -> None:
        """Claim again soon (called from any thread after a local enqueue)."""
        if self._wake is None:
            return
        try:
            loop = self._loop
        except AttributeError:
            return
        loop.call_soon_threadsafe(self._wake.set)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or, in burst mode, until no work is left)."""
        self._loop = asyncio.get_running_loop()
        self._store = store = self.app.async_store
        self._slot_freed = asyncio.Event()
        self._wake = asyncio.Event()
        self._stop_services = asyncio.Event()
        # Retries of unwritten completions come at least twice per rescue interval.
        self._completer = completer = Completer(
            store,
            max_pause=min(MAX_RETRY_PAUSE, self.config.rescue_interval / 2),
            worker_id=self.worker_id,
            running=self._running_attempts,
        )
        meter = UsageMeter()
        usage = UsageWriter(store, meter)
        metrics = worker_metrics()
        if metrics is not None:  # jobs the handlers (and this process's scheduler) enqueue
            self.app.middleware.observe_enqueues(metrics)
        self._executor = executor = Executor(
            self.app,
            completer,
            self.worker_id,
            self.config.total_slots,
            on_finished=self._finished,
            on_stuck_thread=self._stuck_thread,
            builtins=(JobLog(), *filter(None, [metrics]), meter),
        )
        info = WorkerInfo(
            id=self.worker_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=self.queues,
            names=self.names,
            slots=self.config.total_slots,
        )
        heartbeat = Heartbeat(
            store, info, executor, self.config.lease, self.config.heartbeat_interval
        )
        await self._register(store, info)
        services = [
            asyncio.create_task(completer.run(self._stop_services), name="conveyor-completer"),
            asyncio.create_task(heartbeat.run(self._stop_services), name="conveyor-heartbeat"),
            asyncio.create_task(
                ProgressReporter(store, executor).run(self._stop_services),
                name="conveyor-progress",
            ),
            asyncio.create_task(usage.run(self._stop_services), name="conveyor-usage"),
            # In every process, not only the one with the fleet duties: a frozen process must
            # not take the only rescuer of its supervisor with it.
            asyncio.create_task(
                Rescuer(store, self.config.rescue_interval, before=completer.flush).run(
                    self._stop_services
                ),
                name="conveyor-rescuer",
            ),
        ]
        if self.config.duties:
            services += [
                asyncio.create_task(
                    Pruner(store, self.app.retention, self.config.prune_interval).run(
                        self._stop_services
                    ),
                    name="conveyor-pruner",
                ),
            ]
            services += self._background_services(self._stop_services)
        if self.config.health_dir is not None:
            stamps = StampWriter(
                self.config.health_dir, self.worker_id, self.progress,
                lambda: heartbeat.last_renewed,
            )
            services.append(asyncio.create_task(
                stamps.run(self._stop_services),
                name="conveyor-health",
            ))
        self.app.add_wakeup(self.wake)
        if self.freezes_start_up:
            freeze_start_up()
        try:
            await self._claim_loop(store, executor)
            await self._drain(executor)
        finally:
            self.app.remove_wakeup(self.wake)
            await completer.drain()
            self._stop_services.set()
            completer.close()
            await asyncio.gather(*services, return_exceptions=True)
            await completer.drain()
            await self._settle(completer)
            await usage.final()
            try:
                await store.put_worker(self.worker_id, None)
            except StoreUnavailableError as exc:
                log.warning("could not deregister worker %s: %s", self.worker_id, exc)
            executor.shutdown()
        return self.exit_code

    def _running_attempts(self) -> list[tuple[int, int]]:
        """(job id, token) of every attempt this process runs (the completer's own pending
        completions it adds itself)."""
        executor = self._executor
        if executor is None:
            return []
        return [(job_id, run.job.token) for job_id, run in executor.running.items()]

    async def _settle(self, completer: Completer) -> None:
        """On the way out: a last claim of unknown outcome must not leave its jobs to wait
        out their lease and be charged (decision 123)."""
        try:
            await completer.settle()
        except Exception as exc:
            log.warning(
                "could not hand back the jobs of a claim whose answer was lost (%s); their "
                "leases will lapse and the rescuer will retry them",
                exc,
            )

    def _background_services(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """The outbox's deliverer, the scheduler and the monitor (not in burst mode; the last
        two unless switched off)."""
        from conveyor.worker.outbox_service import DeliveryService
        from conveyor.worker.scheduler_and_monitor import MonitorService, SchedulerService

        tasks = []
        monitoring = (
            self.config.monitor and not self.config.burst and self.app.monitor_config.enabled
        )
        if not self.config.burst:
            # Always on: webhooks are found through an index of the jobs that asked for one,
            # so it costs next to nothing in an app that never passes notify_url=. Where the
            # monitor runs, the same deliverer sends its alerts.
            tasks.append(
                asyncio.create_task(
                    DeliveryService(self.app, alerts=monitoring).run(stop),
                    name="conveyor-delivery",
                )
            )
        # Even without schedules in code: `conveyor schedules add` may add some at run time.
        if self.config.scheduler and not self.config.burst:
            tasks.append(
                asyncio.create_task(
                    SchedulerService(self.app).run(stop), name="conveyor-scheduler"
                )
            )
        if monitoring:
            tasks.append(
                asyncio.create_task(
                    MonitorService(self.app, self.worker_id).run(stop),
                    name="conveyor-monitor",
                )
            )
        return tasks

    async def _register(self, store: AsyncStore, info: WorkerInfo) -> None:
        failures = 0
        while True:
            try:
                await store.put_worker(info.id, info)
                return
            except StoreUnavailableError as exc:
                failures += 1
                log.warning("cannot register worker (%s); retrying", exc)
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    def _open_groups(self, executor: Executor) -> list[tuple[tuple[str, ...], int]]:
        """The claims one round may make: (queues, most jobs) pairs, capped queues first.

        A capped queue claims on its own, up to its free slots; the uncapped queues claim
        together (one query merges them by priority) up to what the process has left.
        """
        free = self.total_slots - len(executor.running)
        if free <= 0:
            return []
        caps = self.config.queue_slots
        if not caps:
            return [(self.queues, free)]
        busy = Counter(run.job.queue for run in executor.running.values())
        groups: list[tuple[tuple[str, ...], int]] = []
        for queue in self.queues:
            if queue in caps and caps[queue] > busy[queue]:
                groups.append(((queue,), min(caps[queue] - busy[queue], free)))
        shared = tuple(q for q in self.queues if q not in caps)
        if shared:
            groups.append((shared, free))
        return groups

    async def _claim_loop(self, store: AsyncStore, executor: Executor) -> None:
        assert self._slot_freed is not None and self._wake is not None
        assert self._completer is not None
        completer = self._completer
        failures = 0
        while not self._stopping:
            self.progress.claim = time.monotonic()
            if not self._open_groups(executor):
                self._slot_freed.clear()
                # Every slot is busy: nothing to claim, so the loop's age says nothing.
                self.progress.slots_full = True
                await self._slot_freed.wait()
                self.progress.slots_full = False
                continue
            with completer.claiming():  # the completions wait for the claim, not a flush
                await self._gather_slots(executor)
            filled = True
            open_queues: list[str] = []
            # A wake-up from here on (a local enqueue, a stage's completion) is for after this
            # round: kept until the idle wait, which it then ends at once. Cleared in the idle
            # wait instead, one that arrived during its due-time read was lost to the poll.
            self._wake.clear()
            try:
                for queues, _ in self._open_groups(executor):
                    # Recompute the limit: an earlier group in this round took slots.
                    limit = dict(self._open_groups(executor)).get(queues, 0)
                    if limit <= 0 or self._stopping:
                        continue
                    params = ClaimParams(
                        self.worker_id, queues, self.names, limit, self.config.lease,
                        limited_names=self.limited_names,
                    )
                    # Finished attempts ride with the claim: they are durable before any job
                    # it returns starts (one that kills the process cannot take them along).
                    claimed = await completer.claim_with(partial(_claim, store, params))
                    jobs = claimed.claimed
                    for job in jobs:
                        executor.start(job)
                    self.claimed += len(jobs)
                    if len(jobs) < limit:
                        filled = False
                        open_queues += queues
                failures = 0
            except Exception as exc:
                # Never let the claim loop die while the process looks alive: log, back off,
                # try again. An infrastructure error never touches a job's attempts.
                failures += 1
                if isinstance(exc, StoreUnavailableError):
                    log.warning("claim failed (%s); retrying", exc)
                else:
                    log.exception("claim failed unexpectedly; retrying")
                await asyncio.sleep(min(5.0, 0.05 * 2**failures))
                # A claim of unknown outcome is settled now, not at the next claim, which
                # may wait for a slot longer than its jobs' lease (decision 123).
                with contextlib.suppress(Exception):  # the next claim settles it first
                    await completer.settle()
                continue
            if filled:
                continue  # more may be waiting: claim again as slots allow
            await self._idle(store, executor, tuple(open_queues))

    async def _gather_slots(self, executor: Executor) -> None:
        """With fewer than half the slots free, wait up to ``GATHER_SLOTS`` for half to be
        free: one claim of many costs far less than many claims of one.

        Sync jobs' slots free up one by one (threads finish one at a time). Async slots split
        into cohorts: jobs started by one claim finish while the next claim is in flight, so a
        process whose slots once freed at two moments (a long job among short ones: a
        fan-out's expander among its items) went on claiming twice a round, 49 jobs and then
        1, for the rest of its life. Waiting for the jobs just started lets them end first.
        """
        assert self._slot_freed is not None
        half = self.total_slots // 2
        deadline = time.monotonic() + GATHER_SLOTS
        while self.total_slots - len(executor.running) < half and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._slot_freed.clear()
            await sleep_or_stop(self._slot_freed, left)

    async def _idle(
        self, store: AsyncStore, executor: Executor, open_queues: tuple[str, ...]
    ) -> None:
        """Wait for something that may make a job claimable.

        ``open_queues`` had free slots and found no ready job. A queue at its cap is not
        among them: its backlog is due but must wait for one of its own slots to free up.
        """
        assert self._wake is not None and self._completer is not None
        assert self._slot_freed is not None
        # Judge "idle" from before the awaits below: a job finishing meanwhile leaves an
        # outcome that may schedule a retry, and the next round must see it.
        busy = bool(executor.running)
        try:
            if self.config.burst:
                await self._completer.flush()
            due = await self._due_unless_woken(store, open_queues)
        except _Woken:
            return  # something to claim arrived while the due time was being read
        except Exception as exc:
            log.warning("could not read the next due time (%s)", exc)
            busy, due = True, None
        # While another process runs a job of these queues, a burst process waits like any
        # idle one: a finishing job may hand work on (a pipeline's next stage or fan-out, a
        # quick retry, a job it enqueues), which one process would otherwise do alone.
        if (
            self.config.burst
            and not busy
            and (due is None or due > BURST_HORIZON)
            and not await self._running_elsewhere(store)
        ):
            log.info("burst: no work left for %s; exiting", ",".join(self.queues))
            self._stopping = True
            return
        # The poll is the fallback for lost wake-ups; jitter keeps processes from polling in step.
        # While a LISTEN connection is live every enqueue, completion, rescue and resume sends a
        # NOTIFY and ``due`` covers delayed jobs, so the fallback can wait longer: a fleet's
        # idle statements then hardly grow with its processes (benchmarks/fleet.py).
        stretch = LISTENING_POLL_STRETCH if getattr(store, "listening", False) else 1.0
        poll = self.config.poll_interval * stretch * random.uniform(0.8, 1.2)
        wait = poll if due is None else min(poll, due)
        if wait <= 0:
            await asyncio.sleep(0.001)  # a race with another claimer; try again at once
            return
        waits = {
            asyncio.ensure_future(store.wait_for_change(wait)),
            asyncio.ensure_future(self._wake.wait()),
        }
        if len(open_queues) < len(self.queues):
            # A capped queue is full: one of its jobs finishing opens a slot for its backlog.
            self._slot_freed.clear()
            waits.add(asyncio.ensure_future(self._slot_freed.wait()))
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _running_elsewhere(self, store: AsyncStore) -> bool:
        """Whether a job of this process's queues is running anywhere (a burst process
        stays while one is). A failed read counts as yes: the next idle round asks again."""
        flt = [JobFilter(states=(JobState.RUNNING,), queue=q, limit=1, payloads=False)
               for q in self.queues]
        try:
            for one in flt:
                if await asyncio.to_thread(store.sync.list_jobs, one):
                    return True
        except Exception as exc:
            log.warning("could not read the running jobs of %s (%s)", ",".join(self.queues), exc)
            return True
        return False

    async def _due_unless_woken(
        self, store: AsyncStore, open_queues: tuple[str, ...]
    ) -> float | None:
        """The next due time, read while listening for a wake-up: one that arrives first (a
        local enqueue, a stage's completion, a stop) raises :class:`_Woken` at once instead of
        waiting a round trip for an answer the claim loop no longer needs; the read finishes
        on its own and its answer is dropped."""
        assert self._wake is not None
        if self._wake.is_set():
            raise _Woken
        read = asyncio.ensure_future(store.next_due_in(open_queues, self.names))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({read, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also when this wait is cancelled (a stop): no waiter is left on the event, and
            # an abandoned read's error, if any, is not reported as never retrieved.
            woken.cancel()
            if not read.done():
                read.add_done_callback(lambda task: task.cancelled() or task.exception())
        if read.done():
            return read.result()
        raise _Woken

    async def _drain(self, executor: Executor) -> None:
        """Let running jobs finish until the drain deadline, then hand the rest back."""
        assert self._slot_freed is not None
        while executor.running:
            left = (self._drain_deadline or 0.0) - time.monotonic()
            if left <= 0:
                break
            self._slot_freed.clear()
            await sleep_or_stop(self._slot_freed, min(left, 0.1))
        if executor.running:
            log.warning("releasing %d unfinished jobs back to the queue", len(executor.running))
            tasks = []
            for job_id, run in list(executor.running.items()):
                executor.stop(job_id, StopReason.RELEASED)
                if run.task is not None:
                    tasks.append(run.task)
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- callbacks ----------------------------------------------------------------------------

    def _finished(self, run: Running) -> None:
        assert self._slot_freed is not None and self._wake is not None
        self._slot_freed.set()
        if run.in_run:
            # A stage's completion makes the next stage's job in the transaction that writes
            # it: let an idle claim loop carry it now (complete, advance, claim: one
            # transaction) instead of the background flush, then a poll or a NOTIFY.
            self._wake.set()
        if self._recycler is not None and not self._stopping and self._executor is not None:
            reason = self._recycler.after_job(self._executor.completed)
            if reason is not None:
                # A clean hand-over: running jobs finish, then the supervisor starts a fresh
                # process in this one's place.
                log.info("replacing worker process %s: %s", self.worker_id, reason)
                self.exit_code = EXIT_REPLACE
                self.request_stop()

    def _stuck_thread(self, run: Running) -> None:
        log.error(
            "job %s (%s) ignored its %ss timeout in a thread, which cannot be interrupted; "
            "replacing this process (its other jobs are handed back to the queue)",
            run.job.id,
            run.job.name,
            run.job.timeout,
        )
        self.exit_code = EXIT_REPLACE
        self.request_stop(drain=min(REPLACE_DRAIN, self.config.drain_timeout))

    def stats(self) -> dict[str, Any]:
        """Counters for logs and tests."""
        executor = self._executor
        return {
            "claimed": self.claimed,
            "completed": executor.completed if executor else 0,
            "running": len(executor.running) if executor else 0,
        }
