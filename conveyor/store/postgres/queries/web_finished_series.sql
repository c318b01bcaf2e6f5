-- Finished work per queue and time bucket since the given time: jobs that succeeded or went dead
-- (by the job's finished_at, along conveyor_jobs_finished) and attempts that failed or were
-- lost and then retried (along conveyor_attempts_finished).
SELECT floor(extract(epoch FROM f.finished_at)::float8 / %(bucket)s) * %(bucket)s AS bucket,
       f.queue, SUM(f.succeeded)::bigint, SUM(f.failed)::bigint
FROM (
    SELECT queue, finished_at, (state = 'succeeded')::int AS succeeded,
           (state = 'dead')::int AS failed
    FROM {schema}.conveyor_jobs
    WHERE state IN ('succeeded', 'dead') AND finished_at >= to_timestamp(%(since)s)
    UNION ALL
    SELECT j.queue, a.finished_at, 0, 1
    FROM {schema}.conveyor_attempts AS a
    JOIN {schema}.conveyor_jobs AS j ON j.id = a.job_id
    WHERE a.finished_at >= to_timestamp(%(since)s) AND a.outcome IN ('failed', 'lost')
) AS f
GROUP BY 1, 2
ORDER BY 1, 2
