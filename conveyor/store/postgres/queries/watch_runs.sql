-- Running runs past their deadline, and running runs stalled (no stage finished for
-- stall_after seconds), at now. Each half reads its partial index of running runs (migration
-- 0013), so the monitor's round costs what the running runs cost, however many finished.
SELECT id, pipeline, created_at, deadline_at, stall_after, last_progress_at, resumes, tenant
FROM (
    (SELECT * FROM {schema}.conveyor_runs
     WHERE state = 'running' AND deadline_at IS NOT NULL
       AND deadline_at <= extract(epoch FROM now())::float8
     ORDER BY deadline_at
     LIMIT %(limit)s)
    UNION
    (SELECT * FROM {schema}.conveyor_runs
     WHERE state = 'running' AND stall_after IS NOT NULL
       AND last_progress_at + stall_after <= extract(epoch FROM now())::float8
     ORDER BY last_progress_at + stall_after
     LIMIT %(limit)s)
) AS overdue
ORDER BY id
