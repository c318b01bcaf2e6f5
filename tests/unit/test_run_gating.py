"""Plain completions pay nothing for pipelines: the plan that completes a batch without a
stage job's completion is the job plan itself, on both dialects (decision: a run advances in
the transaction that ends its stage job)."""

from __future__ import annotations

from conveyor._lifecycle import Completion, CompletionKind
from conveyor.store.postgres import run_verbs as pg_runs
from conveyor.store.postgres.plans import Plans, is_single
from conveyor.store.sqlite import job_plans
from conveyor.store.sqlite import run_verbs as sqlite_runs

PLAIN = [Completion(1, 10, CompletionKind.SUCCEEDED), Completion(2, 20, CompletionKind.CANCELLED)]
STAGED = [*PLAIN, Completion(3, 30, CompletionKind.SUCCEEDED, in_run=True)]


def test_sqlite_plain_batches_run_complete_jobs_plan_itself() -> None:
    plain = sqlite_runs.completing(1.0, PLAIN)
    staged = sqlite_runs.completing(1.0, STAGED)
    try:
        assert plain.gi_code is job_plans.complete_jobs.__code__
        assert staged.gi_code is not job_plans.complete_jobs.__code__
    finally:
        plain.close()
        staged.close()


def test_postgres_plain_batches_stay_one_autocommit_statement() -> None:
    plans = Plans("conveyor")
    plain = pg_runs.completing(plans, PLAIN, None)
    staged = pg_runs.completing(plans, STAGED, None)
    try:
        # One statement in autocommit, as before runs existed; a stage job's needs a transaction.
        assert is_single(plain)
        assert not is_single(staged)
    finally:
        plain.close()
        staged.close()
