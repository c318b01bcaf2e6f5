-- Three counts, each read along an index: finished jobs through conveyor_jobs_finished
-- (state, finished_at), attempts through conveyor_attempts_finished. A lost attempt (its
-- worker died) counts as failed, as in the queue stats.
SELECT c.queue, SUM(c.succeeded)::bigint, SUM(c.failed_attempts)::bigint, SUM(c.dead)::bigint,
       SUM(c.expired)::bigint
FROM (
    SELECT queue, COUNT(*) AS succeeded, 0 AS failed_attempts, 0 AS dead, 0 AS expired
    FROM {schema}.conveyor_jobs
    WHERE state = 'succeeded' AND finished_at >= to_timestamp(%(since)s)
    GROUP BY queue
    UNION ALL
    SELECT j.queue, 0, COUNT(*), 0, 0
    FROM {schema}.conveyor_attempts AS a
    JOIN {schema}.conveyor_jobs AS j ON j.id = a.job_id
    WHERE a.finished_at >= to_timestamp(%(since)s) AND a.outcome IN ('failed', 'dead', 'lost')
    GROUP BY j.queue
    UNION ALL
    SELECT queue, 0, 0, COUNT(*), 0
    FROM {schema}.conveyor_jobs
    WHERE state = 'dead' AND finished_at >= to_timestamp(%(since)s)
    GROUP BY queue
    UNION ALL
    -- Jobs not started by their start deadline (the Expired error type, lifecycle.EXPIRED).
    SELECT queue, 0, 0, 0, COUNT(*)
    FROM {schema}.conveyor_jobs
    WHERE state = 'cancelled' AND finished_at >= to_timestamp(%(since)s)
      AND error_type = 'Expired'
    GROUP BY queue
) AS c
GROUP BY c.queue
ORDER BY c.queue
