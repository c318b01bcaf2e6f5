"""The output verbs as one plan for both stores (:mod:`conveyor.store.contract.output`)."""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.errors import OutputLimitError
from conveyor.store.contract.output import OutputChunk
from conveyor.store.plan import Plan, Statement


class OutputDialect(Protocol):
    """A store's named statements at a clock (the run dialects are such)."""

    def stmt(self, name: str, params: dict[str, Any], now: float | None) -> Statement:
        """The statement ``queries/<name>.sql`` at ``now``."""
        ...


def append_output(
    d: OutputDialect, job_id: int, token: int, attempt: int, chunk_json: str, max_bytes: int,
    now: float | None,
) -> Plan[int | None]:
    """Write the chunk if the job still runs under ``token`` and it fits; else say why not."""
    size = len(chunk_json.encode())
    if size > max_bytes:
        raise _too_large(job_id, 0, size, max_bytes)
    params = {"job_id": job_id, "token": token, "attempt": attempt, "size": size,
              "chunk": chunk_json, "max": max_bytes}
    written = yield d.stmt("output_append", params, now)
    if written.rows:
        return int(written.rows[0][0])
    state = yield d.stmt("output_used", {"job_id": job_id, "token": token}, now)
    running, used = state.rows[0] if state.rows else (False, 0)
    if not running:
        return None
    raise _too_large(job_id, int(used), size, max_bytes)


def read_output(
    d: OutputDialect, job_id: int, after: int, limit: int, now: float | None
) -> Plan[list[OutputChunk]]:
    """The chunks after ``after``, in order."""
    found = yield d.stmt("output_read", {"job_id": job_id, "after": after, "limit": limit}, now)
    return [OutputChunk(seq=int(r[0]), attempt=int(r[1]), at=float(r[2]), chunk_json=str(r[3]))
            for r in found.rows]


def _too_large(job_id: int, used: int, size: int, max_bytes: int) -> OutputLimitError:
    return OutputLimitError(
        f"job {job_id}: emitting {size:,} bytes would take its output past the limit of "
        f"{max_bytes:,} bytes ({used:,} stored already); emit less, or store large results "
        "elsewhere and emit a reference (or raise Conveyor(max_output_bytes=...))"
    )
