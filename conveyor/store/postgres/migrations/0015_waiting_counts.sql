-- Waiting jobs by queue, state and due time (issue 14): each of the per-queue counts
-- (ready now, scheduled later, retrying later) and the oldest ready job's age is one range of
-- this index, read without touching the table, however deep the backlog or however many
-- finished jobs are kept. Partial, like the ready indexes: a job leaves it when claimed.
CREATE INDEX conveyor_jobs_waiting ON {schema}.conveyor_jobs (queue, state, run_at)
    WHERE state IN ('queued', 'scheduled', 'retrying');
