-- Finished work per queue and time bucket since :since: jobs that succeeded or went dead (by
-- the job's finished_at, along conveyor_jobs_finished, whose WHERE term is repeated so SQLite
-- uses it) and attempts that failed or were lost and then retried (conveyor_attempts_finished).
-- Times are positive epoch seconds, so truncating the quotient is floor().
SELECT CAST(f.finished_at / :bucket AS INTEGER) * :bucket AS bucket, f.queue,
       SUM(f.succeeded), SUM(f.failed)
FROM (
    SELECT queue, finished_at, state = 'succeeded' AS succeeded, state = 'dead' AS failed
    FROM conveyor_jobs
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled') AND state <> 'cancelled'
      AND finished_at >= :since
    UNION ALL
    SELECT j.queue, a.finished_at, 0, 1
    FROM conveyor_attempts AS a
    JOIN conveyor_jobs AS j ON j.id = a.job_id
    WHERE a.finished_at >= :since AND a.outcome IN ('failed', 'lost')
) AS f
GROUP BY 1, 2
ORDER BY 1, 2
