"""The store contract, one module per domain: what every backend implements.

- :mod:`~conveyor.store.contract.jobs`: a job's life (insert, claim, heartbeat, complete,
  rescue), reading jobs, bulk actions (retry, cancel, discard), pruning, ``ctx.once()``.
- :mod:`~conveyor.store.contract.queues`: pause/resume, depth, statistics, why a job waits.
- :mod:`~conveyor.store.contract.workers`: the registry of worker processes.
- :mod:`~conveyor.store.contract.schedules`: schedules and their ledger of slots.
- :mod:`~conveyor.store.contract.monitor`: check-ins, incidents, named leases, window counts.
- :mod:`~conveyor.store.contract.outbox`: the delivery table (alert notices and webhooks).
- :mod:`~conveyor.store.contract.audit`: the log of operator actions.
- :mod:`~conveyor.store.contract.dashboard`: dead-letter groups, chart series, sessions.
- :mod:`~conveyor.store.contract.records`: the records the job and queue verbs exchange.
- :mod:`~conveyor.store.contract.runs`: pipeline runs, their stages and ``ctx.step``
  checkpoints (records in :mod:`~conveyor.store.contract.run_records`).
- :mod:`~conveyor.store.contract.output`: a job's partial output (``ctx.emit``).
- :mod:`~conveyor.store.contract.usage`: what attempts cost (time, CPU, memory, ``ctx.usage``).

:class:`conveyor.store.protocol.Store` is the composition of these protocols.

**How to read a verb.** This package is the document a third store is written against, and
``tests/store`` (the conformance suite) is how it is checked. Each verb's docstring says what
it does, then ends with a ``Guarantees:`` paragraph that states, as needed:

- *atomicity*: "one transaction" means all of the verb's writes become visible together or not
  at all (a failure writes nothing); "several transactions" means a crash between them leaves
  only what a shorter run would have done; "inside the caller's transaction" means the store
  neither commits nor rolls back.
- *fencing*: what a write is guarded by, checked inside the same transaction: the job's
  **state** (only jobs in the named states change), the attempt's **token** (a stale attempt's
  write is refused), an **owner** or holder (a worker, a deliverer, a lease holder), or a
  unique **key**. A fenced write that loses says so (False, None, ``accepted=False``, or the id
  missing from the result) and writes nothing.
- *idempotence*: whether calling it again with the same arguments is harmless, and what the
  repeat returns. "Reads only" verbs write nothing and are always safe to repeat.
- *now*: which instant a time-dependent verb judges at (below).

Verbs that are not stated otherwise are safe to call from several processes at once: the
fencing is what makes them so.

**Time is a parameter.** A verb whose answer depends on the current time takes it as ``now``
(epoch seconds): a keyword-only ``now: float | None = None`` argument, or a ``now`` field of
the parameters it already takes (:class:`~conveyor.store.contract.records.ClaimParams`,
:class:`~conveyor.store.contract.records.HeartbeatParams`). ``now`` is the caller's clock,
defaulting to the store's: ``None`` reads the store's clock where the store reads it anyway
(SQLite: this machine's, under the write lock; PostgreSQL: the server's ``now()``). Everything
the verb compares or writes as "now" (due times, leases, retry delays, retention, rate windows)
uses that one value, so a test advances time by passing a later ``now`` instead of sleeping.
Production callers leave it unset.
"""
