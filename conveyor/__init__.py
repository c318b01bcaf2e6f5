"""Conveyor: background jobs for Python web apps that lose nothing and hide nothing."""

from conveyor._context import JobContext
from conveyor._handle import JobHandle
from conveyor._jobs import JobDefinition, JobOptions
from conveyor._limits import Concurrency, Rate
from conveyor._once import OnceConflictError
from conveyor._retries import Backoff, Cancel, Permanent, Retry
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
    StoreError,
    StoreUnavailableError,
    UnknownJobError,
)
from conveyor.models import Attempt, AttemptOutcome, Job, JobState, QueueStats, WorkerInfo
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
    "QueueFull",
    "QueueStats",
    "Rate",
    "ResultTimeoutError",
    "Retention",
    "Retry",
    "StoreError",
    "StoreUnavailableError",
    "UnknownJobError",
    "WorkerInfo",
]
__version__ = "0.1.0"
