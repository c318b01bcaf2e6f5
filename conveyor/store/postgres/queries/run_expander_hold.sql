-- A part of a fan-out is written only while its expander job still runs under the attempt's
-- token (run_plans.expand_stage): the fence of every part but the last, which completes it.
-- The row lock is taken before the run's, the order every finishing transaction keeps.
SELECT 1 FROM {schema}.conveyor_jobs
WHERE id = %(job_id)s AND state = 'running' AND token = %(token)s
FOR UPDATE
