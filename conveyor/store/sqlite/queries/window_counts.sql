-- Three counts, each read along an index: finished jobs through conveyor_jobs_finished
-- (state, finished_at), attempts through conveyor_attempts_finished. A lost attempt (its
-- worker died) counts as failed, as in the queue stats. The partial index is named and its
-- condition repeated because the planner, not knowing how many rows lie past :since, would
-- otherwise read every succeeded job through conveyor_jobs_state_queue.
SELECT queue, SUM(succeeded), SUM(failed_attempts), SUM(dead), SUM(expired)
FROM (
    SELECT queue, COUNT(*) AS succeeded, 0 AS failed_attempts, 0 AS dead, 0 AS expired
    FROM conveyor_jobs INDEXED BY conveyor_jobs_finished
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled')
      AND state = 'succeeded' AND finished_at >= :since
    GROUP BY queue
    UNION ALL
    SELECT j.queue, 0, COUNT(*), 0, 0
    FROM conveyor_attempts AS a
    JOIN conveyor_jobs AS j ON j.id = a.job_id
    WHERE a.finished_at >= :since AND a.outcome IN ('failed', 'dead', 'lost')
    GROUP BY j.queue
    UNION ALL
    SELECT queue, 0, 0, COUNT(*), 0
    FROM conveyor_jobs INDEXED BY conveyor_jobs_finished
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled')
      AND state = 'dead' AND finished_at >= :since
    GROUP BY queue
    UNION ALL
    -- Jobs not started by their start deadline (the Expired error type, lifecycle.EXPIRED).
    SELECT queue, 0, 0, 0, COUNT(*)
    FROM conveyor_jobs INDEXED BY conveyor_jobs_finished
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled')
      AND state = 'cancelled' AND finished_at >= :since AND error_type = 'Expired'
    GROUP BY queue
)
GROUP BY queue
ORDER BY queue
