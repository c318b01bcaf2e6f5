-- Waiting jobs by queue, state and due time (issue 14), as on PostgreSQL: the per-queue counts
-- (ready now, scheduled later, retrying later) and the oldest ready job's age are ranges of
-- this index, however deep the backlog or however many finished jobs are kept.
CREATE INDEX conveyor_jobs_waiting ON conveyor_jobs (queue, state, run_at)
    WHERE state IN ('queued', 'scheduled', 'retrying');
