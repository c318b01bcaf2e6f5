-- Bounded: stops counting at %(cap)s, so a deep backlog costs no more than a shallow one. Each
-- waiting state is one range of conveyor_jobs_waiting (queue, state, run_at), read index-only
-- and in its order (the ORDER BY), never a table scan that stops early: where waiting jobs are
-- sparse (a backlog behind millions of kept finished rows) that scan would read the table.
SELECT least(%(cap)s, (
    SELECT COUNT(*) FROM (
        SELECT 1 FROM {schema}.conveyor_jobs
        WHERE queue = %(queue)s AND state = 'queued'
        ORDER BY queue, state, run_at
        LIMIT %(cap)s
    ) AS queued
) + (
    SELECT COUNT(*) FROM (
        SELECT 1 FROM {schema}.conveyor_jobs
        WHERE queue = %(queue)s AND state = 'scheduled'
        ORDER BY queue, state, run_at
        LIMIT %(cap)s
    ) AS scheduled
) + (
    SELECT COUNT(*) FROM (
        SELECT 1 FROM {schema}.conveyor_jobs
        WHERE queue = %(queue)s AND state = 'retrying'
        ORDER BY queue, state, run_at
        LIMIT %(cap)s
    ) AS retrying
))
