-- Partial-index predicates without IN lists (issue 13, decision 110). SQLite codes an IN of
-- three or more constants as an ephemeral table, and every UPDATE that changes a job's state
-- tests each partial index's predicate on the old row and the new one: with six predicates
-- written `state IN (...)`, finishing one job built 12 such tables. The same six indexes,
-- with the same names and columns, now say the states as an OR chain, which is plain
-- comparisons. A query meets one of these indexes only if its WHERE has the identical chain
-- (or one of its states alone), so the SQLite queries write the chains exactly as here.
-- PostgreSQL needs nothing: its planner proves `= ANY` predicates without a table.
DROP INDEX conveyor_jobs_ready;
CREATE INDEX conveyor_jobs_ready ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

DROP INDEX conveyor_jobs_ready_limited;
CREATE INDEX conveyor_jobs_ready_limited
    ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND (limit_key IS NOT NULL OR rate_key IS NOT NULL);

DROP INDEX conveyor_jobs_ready_tenant;
CREATE INDEX conveyor_jobs_ready_tenant
    ON conveyor_jobs (queue, (coalesce(tenant, '')), priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

DROP INDEX conveyor_jobs_finished;
CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (state, finished_at)
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled');

DROP INDEX conveyor_jobs_expiring;
CREATE INDEX conveyor_jobs_expiring ON conveyor_jobs (expires_at)
    WHERE expires_at IS NOT NULL
      AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying');

DROP INDEX conveyor_jobs_waiting;
CREATE INDEX conveyor_jobs_waiting ON conveyor_jobs (queue, state, run_at)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying');
