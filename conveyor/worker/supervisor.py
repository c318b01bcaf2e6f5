"""The supervisor: starts worker processes, restarts those that die, forwards shutdown.

When a child dies (kill -9, segfault, out of memory, a job that kills its process), the
supervisor lapses that child's leases at once so the rescuer re-runs its jobs without waiting
out the lease, and counts the attempt, so a job that kills its process every time ends in
``dead`` instead of a crash loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from types import FrameType

from conveyor._loading import load_app
from conveyor._logformat import setup_logging
from conveyor.app import DEFAULT_TIMEOUT_ENV, Conveyor
from conveyor.errors import ConfigurationError, StoreUnavailableError
from conveyor.store import open_store
from conveyor.worker.autoscale import Autoscaler
from conveyor.worker.child import EXIT_CONFIG, encode_config
from conveyor.worker.claim_loop import EXIT_REPLACE, queues_for
from conveyor.worker.config import WorkerConfig
from conveyor.worker.health import Child, HealthServer
from conveyor.worker.metrics import MetricsServer, share_with_children

log = logging.getLogger("conveyor.supervisor")

POLL = 0.05
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 60.0
SCALE_EVERY = 2.0
FLEET_SERVICES_ENV = "CONVEYOR_FLEET_SERVICES"
"""``every``: run the fleet-wide services in every worker process, not only the first."""
"""Seconds between the autoscaler's looks at the queues."""


@dataclass
class Slot:
    """One process position: which child runs in it, and its restart history."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    worker_id: str = ""
    started: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    done: bool = False
    retiring: bool = False
    """Told to drain because the autoscaler shrank the pool: not restarted when it exits."""


class Supervisor:
    """Keeps ``config.processes`` children running until told to stop."""

    def __init__(self, app: Conveyor, app_spec: str, config: WorkerConfig) -> None:
        self.app = app
        self.app_spec = app_spec
        self.config = config
        self.slots = [Slot(i) for i in range(config.processes)]
        self.autoscaler = (
            None
            if config.max_processes is None or config.burst
            else Autoscaler(
                least=config.processes,
                most=config.max_processes,
                slots_per_process=config.total_slots,
                target_wait=config.scale_wait,
                cooldown=config.scale_cooldown,
            )
        )
        self.next_scale = 0.0
        self.signals = 0
        self.unexpired: list[str] = []
        self.config_error = False

    def children(self) -> list[Child]:
        """The processes running now (read by the health server's thread)."""
        return [
            Child(slot.worker_id, slot.started) for slot in list(self.slots)
            if slot.proc is not None and slot.proc.poll() is None
        ]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        how = "draining" if self.signals == 1 else "stopping at once"
        log.info("received %s: %s", signal.Signals(signum).name, how)
        for slot in self.slots:
            self._tell(slot, "drain" if self.signals == 1 else "stop")

    @staticmethod
    def _tell(slot: Slot, command: str) -> None:
        if slot.proc is None or slot.proc.poll() is not None or slot.proc.stdin is None:
            return
        try:
            slot.proc.stdin.write(f"{command}\n".encode())
            slot.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it is exiting already

    def _start(self, slot: Slot) -> None:
        suffix = secrets.token_hex(3)
        slot.worker_id = f"{socket.gethostname()}:{os.getpid()}:{slot.index}:{suffix}"
        slot.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conveyor.worker",
                self.app_spec,
                slot.worker_id,
                encode_config(self._config_for(slot)),
            ],
            stdin=subprocess.PIPE,
        )
        slot.started = time.monotonic()
        log.info("started worker process %s (pid %d)", slot.worker_id, slot.proc.pid)

    def _config_for(self, slot: Slot) -> WorkerConfig:
        """The first slot's process carries the fleet-wide services (see
        :attr:`WorkerConfig.duties`); the others only claim, run and heartbeat. Slot 0 is
        never retired by the autoscaler and is restarted when it dies, so there is always one."""
        if slot.index == 0 or os.environ.get(FLEET_SERVICES_ENV, "").lower() == "every":
            return self.config
        return replace(self.config, duties=False)

    def _expire(self, worker_id: str) -> None:
        try:
            count = self.app.store.expire_worker(worker_id)
            if count:
                log.warning("lapsed %d leases of dead worker %s", count, worker_id)
        except StoreUnavailableError as exc:
            log.warning("cannot lapse leases of %s yet (%s); will retry", worker_id, exc)
            self.unexpired.append(worker_id)

    def _reap(self, slot: Slot) -> None:
        assert slot.proc is not None
        code = slot.proc.returncode
        if slot.proc.stdin is not None:
            slot.proc.stdin.close()
        slot.proc = None
        ran = time.monotonic() - slot.started
        if code not in (0, EXIT_REPLACE):
            log.error("worker process %s exited with %s", slot.worker_id, _describe(code))
            self._expire(slot.worker_id)
        if code == EXIT_CONFIG:
            self.config_error = True
            slot.done = True
            return
        if slot.retiring:
            slot.done = True
            log.info("worker process %s drained and left (the pool shrank)", slot.worker_id)
            return
        if self.signals or (self.config.burst and code == 0):
            slot.done = True
            return
        if code in (0, EXIT_REPLACE):
            slot.next_start = time.monotonic()
            return
        slot.failures = 1 if ran > STABLE_AFTER else slot.failures + 1
        delay = min(MAX_RESTART_DELAY, 0.25 * 2 ** (slot.failures - 1))
        slot.next_start = time.monotonic() + delay
        log.info("restarting slot %d in %.2fs", slot.index, delay)

    def run(self) -> int:
        """Supervise until every child has stopped; return the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while True:
                now = time.monotonic()
                for slot in self.slots:
                    if slot.proc is not None and slot.proc.poll() is not None:
                        self._reap(slot)
                    if (
                        slot.proc is None
                        and not slot.done
                        and not self.signals
                        and not self.config_error
                        and now >= slot.next_start
                    ):
                        self._start(slot)
                self.slots = [s for s in self.slots if not (s.retiring and s.done)]
                if self.autoscaler is not None and not self.signals and now >= self.next_scale:
                    self.next_scale = now + SCALE_EVERY
                    self._scale(self.autoscaler, now)
                if self.unexpired:
                    pending, self.unexpired = self.unexpired, []
                    for worker_id in pending:
                        self._expire(worker_id)
                if all(slot.proc is None for slot in self.slots) and (
                    self.signals or self.config_error or all(s.done for s in self.slots)
                ):
                    break
                if self.config_error:
                    self._on_signal(signal.SIGTERM, None)
                time.sleep(POLL)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 2 if self.config_error else 0


    def _scale(self, autoscaler: Autoscaler, now: float) -> None:
        """Add processes or retire one, as the autoscaler decides."""
        needs = autoscaler.read(self.app.store, queues_for(self.app, self.config))
        if needs is None:
            return
        active = [s for s in self.slots if not s.retiring and not s.done]
        wanted = autoscaler.decide(len(active), needs, now)
        if wanted > len(active):
            log.info("autoscale: %d -> %d processes", len(active), wanted)
            start = max((s.index for s in self.slots), default=-1) + 1
            self.slots.extend(Slot(start + n) for n in range(wanted - len(active)))
        elif wanted < len(active):
            newest = max(active, key=lambda s: s.index)
            log.info("autoscale: %d -> %d processes (draining %s)", len(active), wanted,
                     newest.worker_id)
            newest.retiring = True
            if newest.proc is None:
                newest.done = True
            else:
                self._tell(newest, "drain")


def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def untimed_jobs(app: Conveyor) -> list[str]:
    """Job types that may run for ever without having said so: declared without ``timeout=``
    while the app has no ``default_timeout``. (``timeout=None`` is a choice, not listed.)"""
    return sorted(
        name
        for name, definition in app.jobs.items()
        if definition.options.timeout is None and not definition.options.timeout_explicit
    )


def warn_untimed(app: Conveyor) -> None:
    """Warn once, at start-up, naming the job types that have no timeout at all: a hung call
    in one of them holds its worker slot until someone notices."""
    names = untimed_jobs(app)
    if names:
        log.warning(
            "%d job type(s) have no timeout, so a hung call holds its slot for ever: %s; set "
            "Conveyor(default_timeout='15m') or %s, or declare timeout= on each "
            "(timeout=None to mean it)",
            len(names), ", ".join(names), DEFAULT_TIMEOUT_ENV,
        )


def run_worker(app_spec: str, config: WorkerConfig) -> int:
    """Run a worker for the app at ``app_spec`` (``module:attribute``); return an exit code.

    Blocks until SIGTERM/SIGINT (or, with ``config.burst``, until the queues are empty).
    """
    setup_logging("supervisor")
    app = load_app(app_spec)
    if not app.jobs:
        raise ConfigurationError(
            f"app {app_spec!r} declares no jobs; a worker would have nothing to run"
        )
    app.store.migrate()
    warn_untimed(app)
    log.info(
        "conveyor worker: %s process(es) x %d slots on queues %s (%d job types)",
        config.processes if config.max_processes is None
        else f"{config.processes}..{config.max_processes}",
        config.total_slots,
        ",".join(queues_for(app, config)),
        len(app.jobs),
    )
    with contextlib.ExitStack() as stack:
        if config.metrics_port is not None:
            # Set before any child starts: each one's prometheus-client reads it at import.
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-metrics-"))
            share_with_children(folder, tenant=config.metrics_tenant)
            metrics = MetricsServer(config.metrics_host, config.metrics_port, folder)
            stack.callback(metrics.close)
            log.info(
                "metrics on http://%s:%s/metrics", config.metrics_host, config.metrics_port
            )
        if config.health_port is not None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-health-"))
            config = dataclasses.replace(config, health_dir=folder)
        supervisor = Supervisor(app, app_spec, config)
        if config.health_port is not None and config.health_dir is not None:
            health = HealthServer(
                config.health_host,
                config.health_port,
                config.health_dir,
                supervisor.children,
                lambda: open_store(app.url, schema=app.schema),
                stall=config.health_stall,
                lease=config.lease,
            )
            health.start()
            stack.callback(health.close)
        return supervisor.run()
