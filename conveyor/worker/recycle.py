"""When a worker process should make way for a fresh one (``--max-jobs-per-process``,
``--max-memory``): a leak in a job's library, or memory the allocator never returns, is
cleared by a new process instead of growing until the kernel kills it mid-job."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MEMORY_EVERY = 1.0
"""Seconds between looks at the process's memory (reading it costs a system call or two)."""


def resident_mb() -> float:
    """This process's resident memory now, in MiB (Linux: /proc; elsewhere: the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        # ru_maxrss is KiB on Linux and bytes on macOS; the peak is an upper bound either way.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if peak > 2**32 else peak / 2**10


@dataclass
class Recycler:
    """Says, after each finished job, whether the process has done its share."""

    max_jobs: int | None = None
    max_memory_mb: float | None = None
    memory: Callable[[], float] = resident_mb
    clock: Callable[[], float] = time.monotonic
    _next_look: float = field(default=0.0, repr=False)

    def after_job(self, completed: int) -> str | None:
        """Why the process should be replaced now, or None to keep going."""
        if self.max_jobs is not None and completed >= self.max_jobs:
            return f"it ran {completed} jobs (--max-jobs-per-process {self.max_jobs})"
        if self.max_memory_mb is not None:
            now = self.clock()
            if now >= self._next_look:
                self._next_look = now + MEMORY_EVERY
                used = self.memory()
                if used > self.max_memory_mb:
                    return f"it uses {used:.0f} MiB (--max-memory {self.max_memory_mb:g} MiB)"
        return None
