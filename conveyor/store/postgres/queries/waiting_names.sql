SELECT DISTINCT queue, name
FROM {schema}.conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying') AND run_at <= now()
ORDER BY queue, name
