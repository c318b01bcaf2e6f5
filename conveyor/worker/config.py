"""Worker settings, validated once when the worker starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor._names import check_queue
from conveyor.errors import ConfigurationError


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker (a supervisor and its processes) runs.

    ``queues`` empty means every queue the app's jobs declare.
    """

    queues: tuple[str, ...] = ()
    concurrency: int = 8
    """Jobs run at once in each process (async tasks plus the sync thread pool)."""
    queue_slots: dict[str, int] = field(default_factory=dict)
    """Per-queue caps on jobs at once in each process (``--queues emails=8,reports=2``).

    A capped queue never takes more than its slots, so a backlog in one queue cannot fill the
    slots another needs. When every queue is capped the process runs the sum of the caps;
    otherwise ``concurrency`` is the total and uncapped queues share what the capped ones leave.
    """
    processes: int = 1
    """Worker processes under the supervisor; with ``max_processes``, the least it runs."""
    max_processes: int | None = None
    """Grow up to this many processes with the backlog (``--processes 1..8``); None: fixed."""
    scale_wait: float = 30.0
    """Growing aims to start every ready job within this many seconds."""
    scale_cooldown: float = 60.0
    """Shrinking waits this long below the advice between steps; the load is averaged over it."""
    max_jobs_per_process: int | None = None
    """Replace a process (after a drain) once it has run this many jobs."""
    max_memory_mb: float | None = None
    """Replace a process (after a drain) once its resident memory passes this many MiB."""
    lease: float = 30.0
    """Seconds a claim holds a job without a heartbeat; heartbeats come every lease / 3."""
    drain_timeout: float = 30.0
    """On SIGTERM, how long running jobs may finish before they are handed back."""
    poll_interval: float = 1.0
    """Longest wait between claim attempts when no change is seen."""
    rescue_interval: float = 5.0
    prune_interval: float = 60.0
    burst: bool = False
    """Work until the queues hold no ready job, then exit (without scheduler or monitor)."""
    scheduler: bool = True
    """Run a scheduler in each process: it fires the app's schedules (once per slot overall)."""
    monitor: bool = True
    """Run the monitor in each process (one is active at a time, through a lease), unless the
    app's monitor is disabled (``app.configure_monitor(enabled=False)``)."""
    duties: bool = True
    """Run the fleet-wide services in this process: scheduler, monitor, webhook deliverer and
    pruner (every process keeps its rescuer). A supervisor keeps them in its first process only
    (the others claim, heartbeat and rescue), so a fleet's idle load grows with its
    supervisors, not its processes; ``CONVEYOR_FLEET_SERVICES=every`` puts them back in every
    process."""
    health_port: int | None = None
    """Serve ``/livez`` and ``/readyz`` on this port (from the supervisor), or None."""
    health_host: str = "0.0.0.0"
    """The address the health probes listen on (all interfaces: a kubelet calls the pod's IP)."""
    health_stall: float = 10.0
    """Seconds a process's event loop may go without running before ``/livez`` fails."""
    health_dir: str | None = None
    metrics_port: int | None = None
    """Serve Prometheus metrics on this port (from the supervisor), or None."""
    metrics_host: str = "0.0.0.0"
    """The address the metrics listen on."""
    metrics_tenant: bool = False
    """Label the attempts and enqueued counters by tenant too (``--metrics-tenant``)."""
    """Where the processes write their health stamps (set by the supervisor)."""
    worker_name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for queue in self.queues:
            check_queue(queue)
        for queue, slots in self.queue_slots.items():
            check_queue(queue)
            if self.queues and queue not in self.queues:
                raise ConfigurationError(f"queue_slots names {queue!r}, which is not in queues")
            if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
                raise ConfigurationError(
                    f"queue {queue!r} needs 1 or more slots (e.g. {queue}=4), got {slots!r}"
                )
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be 1 or more, got {self.concurrency}")
        if self.processes < 1:
            raise ConfigurationError(f"processes must be 1 or more, got {self.processes}")
        if self.max_processes is not None and self.max_processes < self.processes:
            raise ConfigurationError(
                f"--processes {self.processes}..{self.max_processes}: the most must be at least "
                "the least"
            )
        if self.scale_wait <= 0 or self.scale_cooldown <= 0:
            raise ConfigurationError(
                "scale_wait and scale_cooldown must be more than zero, got "
                f"{self.scale_wait} and {self.scale_cooldown}"
            )
        if self.max_jobs_per_process is not None and self.max_jobs_per_process < 1:
            raise ConfigurationError(
                f"max_jobs_per_process must be 1 or more, got {self.max_jobs_per_process}"
            )
        if self.max_memory_mb is not None and self.max_memory_mb <= 0:
            raise ConfigurationError(
                f"max_memory_mb must be more than zero, got {self.max_memory_mb}"
            )
        if self.lease < 1:
            raise ConfigurationError(f"lease must be at least 1 second, got {self.lease}")
        if self.drain_timeout < 0:
            raise ConfigurationError(f"drain_timeout must be 0 or more, got {self.drain_timeout}")
        if self.health_port is not None and (
            isinstance(self.health_port, bool) or not 1 <= self.health_port <= 65535
        ):
            raise ConfigurationError(
                f"--health-port must be a port number from 1 to 65535, got {self.health_port}"
            )
        if self.metrics_port is not None and (
            isinstance(self.metrics_port, bool) or not 1 <= self.metrics_port <= 65535
        ):
            raise ConfigurationError(
                f"--metrics-port must be a port number from 1 to 65535, got {self.metrics_port}"
            )
        if self.metrics_tenant and self.metrics_port is None:
            raise ConfigurationError(
                "--metrics-tenant labels the worker's metrics by tenant: add --metrics-port N "
                "to serve them"
            )
        if self.health_stall <= 0:
            raise ConfigurationError(f"health_stall must be positive, got {self.health_stall}")
        if self.poll_interval <= 0:
            raise ConfigurationError(f"poll_interval must be positive, got {self.poll_interval}")

    @property
    def total_slots(self) -> int:
        """Jobs one process runs at once, across all its queues."""
        if self.queue_slots and self.queues and set(self.queues) <= set(self.queue_slots):
            return sum(self.queue_slots[q] for q in self.queues)
        return self.concurrency

    @property
    def heartbeat_interval(self) -> float:
        """How often leases are renewed: a third of the lease, so two beats may be missed."""
        return self.lease / 3
