"""The worker: a supervisor of processes, each running the claim/execute loop."""

from conveyor.worker.config import WorkerConfig
from conveyor.worker.supervisor import run_worker

__all__ = ["WorkerConfig", "run_worker"]
