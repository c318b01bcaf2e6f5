"""A job's partial output: the chunks a running job emits (``ctx.emit``), readable while it
runs and kept after it finishes, with the job.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """One chunk of a job's output, in the order it was emitted."""

    seq: int
    """1, 2, 3... per job, across its attempts."""
    attempt: int
    """The attempt that emitted it."""
    at: float
    """When it was stored (store clock, epoch seconds)."""
    chunk_json: str
    """The chunk as JSON (a string for text chunks)."""


class OutputVerbs(Protocol):
    """Appending to and reading a job's output stream."""

    def append_output(
        self, job_id: int, token: int, attempt: int, chunk_json: str, max_bytes: int,
        *, now: float | None = None,
    ) -> int | None:
        """Append ``chunk_json`` to job ``job_id``'s output; its ``seq``, or None (nothing
        written) when the job no longer runs under ``token``. Raises
        :class:`~conveyor.errors.OutputLimitError`, writing nothing, when the job's stored
        output and this chunk together would pass ``max_bytes`` (UTF-8 bytes of the JSON).
        ``now``: the caller's clock, defaulting to the store's.

        Guarantees: one transaction; fenced by the job's running state and token; the limit
        is checked against what is stored in the same statement that writes.
        """
        ...

    def read_output(self, job_id: int, after: int = 0, limit: int = 500) -> list[OutputChunk]:
        """Up to ``limit`` chunks of job ``job_id`` with ``seq`` above ``after``, in order
        (empty for an unknown job). Output goes when its job is deleted (retention, discard).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...
