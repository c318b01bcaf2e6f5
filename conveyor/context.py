"""The context a handler receives as its first argument."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import ConveyorError


@dataclass(eq=False)
class JobContext:
    """What a running job knows about itself.

    ``ctx.progress(0.5, "half way")`` records progress; it never blocks on the database (the
    worker's progress reporter writes the latest value every half second).
    """

    job_id: int
    name: str
    queue: str
    attempt: int
    max_attempts: int
    deadline: float | None
    """Epoch seconds after which the attempt is stopped, or None without a timeout."""
    worker_id: str
    logger: logging.LoggerAdapter[logging.Logger]
    _progress: tuple[float, str | None] | None = field(default=None, repr=False)
    _progress_dirty: bool = field(default=False, repr=False)

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now would send the job to ``dead``."""
        return self.attempt >= self.max_attempts

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), or None without a timeout."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.time())

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress as a fraction from 0 to 1, with an optional message."""
        if not isinstance(fraction, int | float) or not 0.0 <= float(fraction) <= 1.0:
            raise ConveyorError(
                f"ctx.progress() takes a fraction between 0 and 1, got {fraction!r}"
            )
        self._progress = (float(fraction), None if message is None else str(message)[:500])
        self._progress_dirty = True

    def take_progress(self) -> tuple[float, str | None] | None:
        """The progress reported since the last call, if any (used by the worker)."""
        if not self._progress_dirty:
            return None
        self._progress_dirty = False
        return self._progress


def job_logger(name: str, job_id: int, attempt: int) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the job's id, name and attempt."""
    extra: dict[str, Any] = {"job_id": job_id, "job_name": name, "attempt": attempt}
    return logging.LoggerAdapter(logging.getLogger(f"conveyor.job.{name}"), extra)
