SELECT queue,
       SUM(state IN ('queued', 'scheduled', 'retrying') AND run_at <= :now),
       SUM(state = 'scheduled' AND run_at > :now),
       SUM(state = 'running'),
       SUM(state = 'retrying' AND run_at > :now),
       SUM(state = 'dead'),
       :now - MIN(CASE WHEN state IN ('queued', 'scheduled', 'retrying') AND run_at <= :now
                       THEN run_at END),
       SUM(state = 'succeeded' AND finished_at >= :now - 3600)
FROM conveyor_jobs
GROUP BY queue
ORDER BY queue
