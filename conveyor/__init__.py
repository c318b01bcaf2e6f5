"""Conveyor: background jobs for Python web apps that lose nothing and hide nothing."""

from conveyor._context import JobContext
from conveyor._handle import JobHandle
from conveyor._jobs import JobDefinition, JobOptions
from conveyor._limits import Concurrency, Rate
from conveyor._once import OnceConflictError
from conveyor._retries import Backoff, Cancel, Permanent, Retry, Snooze
from conveyor.app import Conveyor
from conveyor.errors import (
    ArgumentError,
    ConfigurationError,
    ConveyorError,
    InvalidTransitionError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobReplacedError,
    MigrationError,
    PayloadTooLargeError,
    QueueFull,
    ResultTimeoutError,
    ResumeRefusedError,
    RunCancelledError,
    RunFailedError,
    RunNotFoundError,
    StoreError,
    StoreUnavailableError,
    UnknownJobError,
)
from conveyor.models import (
    Attempt,
    AttemptOutcome,
    Job,
    JobState,
    QueueStats,
    RunState,
    StageState,
    WorkerInfo,
)
from conveyor.pipelines import ItemFailure, Pipeline, RunHandle, SeamError, Stage, Workflow
from conveyor.store.protocol import Retention

__all__ = [
    "ArgumentError",
    "Attempt",
    "AttemptOutcome",
    "Backoff",
    "Cancel",
    "Concurrency",
    "ConfigurationError",
    "Conveyor",
    "ConveyorError",
    "InvalidTransitionError",
    "ItemFailure",
    "Job",
    "JobCancelledError",
    "JobContext",
    "JobDefinition",
    "JobFailedError",
    "JobHandle",
    "JobNotFoundError",
    "JobOptions",
    "JobReplacedError",
    "JobState",
    "MigrationError",
    "OnceConflictError",
    "PayloadTooLargeError",
    "Permanent",
    "Pipeline",
    "QueueFull",
    "QueueStats",
    "Rate",
    "ResultTimeoutError",
    "ResumeRefusedError",
    "Retention",
    "Retry",
    "RunCancelledError",
    "RunFailedError",
    "RunHandle",
    "RunNotFoundError",
    "RunState",
    "SeamError",
    "Snooze",
    "Stage",
    "StageState",
    "StoreError",
    "StoreUnavailableError",
    "UnknownJobError",
    "WorkerInfo",
    "Workflow",
]
__version__ = "0.1.0"
