"""The usage verbs as one plan for both stores (:mod:`conveyor.store.contract.usage`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.store.contract.usage import USAGE_BY, UsageRow, UsageTotal
from conveyor.store.output_plans import OutputDialect
from conveyor.store.plan import Plan


def record_usage(d: OutputDialect, rows: Sequence[UsageRow], now: float | None) -> Plan[None]:
    """One set-based insert of the batch, sent as one JSON array of rows (PostgreSQL's;
    SQLite writes its rows with its own ``executemany``). The statement skips rows of jobs
    that are gone."""
    if not rows:
        return
    packed = [
        [r.job_id, r.attempt, r.name, r.queue, r.tenant, r.finished_at, r.wall, r.cpu,
         r.memory_mb,
         # Most attempts report no units: "{}" without the encoder (2 us a row).
         json.dumps(dict(r.units), separators=(",", ":")) if r.units else "{}"]
        for r in rows
    ]
    yield d.stmt("usage_insert", {"rows": json.dumps(packed, separators=(",", ":"))}, now)


def check_by(by: str | None) -> None:
    """Refuse a grouping the store cannot make, naming the ones it can."""
    if by is not None and by not in USAGE_BY:
        raise ConfigurationError(
            f"usage can be grouped by {', '.join(USAGE_BY)} (or nothing), not {by!r}"
        )


def usage_totals(
    d: OutputDialect, by: str | None, since: float | None, until: float | None,
    now: float | None,
) -> Plan[list[UsageTotal]]:
    """Two reads: the per-group sums, then each group's units summed out of their JSON."""
    check_by(by)
    params: dict[str, Any] = {"by": by or "", "since": since, "until": until}
    sums = yield d.stmt("usage_totals", params, now)
    units = yield d.stmt("usage_units", params, now)
    per_key: dict[str | None, dict[str, float]] = {}
    for key, unit, total in units.rows:
        per_key.setdefault(key, {})[str(unit)] = float(total)
    found = [
        UsageTotal(
            key=key, attempts=int(attempts), jobs=int(jobs), wall=float(wall), cpu=float(cpu),
            memory_mb=float(memory), units=dict(sorted(per_key.get(key, {}).items())),
        )
        for key, attempts, jobs, wall, cpu, memory in sums.rows
        if int(attempts) > 0
    ]
    return sorted(found, key=lambda t: (t.key is None, t.key or ""))
