-- The counts stop at :cap, as on PostgreSQL (there each is a bounded read along an index; here
-- one pass over the table still counts them all and caps them, so both stores report the same).
SELECT queue,
       min(SUM(state IN ('queued', 'scheduled', 'retrying') AND run_at <= :now), :cap),
       min(SUM(state = 'scheduled' AND run_at > :now), :cap),
       min(SUM(state = 'running'), :cap),
       min(SUM(state = 'retrying' AND run_at > :now), :cap),
       min(SUM(state = 'dead'), :cap),
       :now - MIN(CASE WHEN state IN ('queued', 'scheduled', 'retrying') AND run_at <= :now
                       THEN run_at END),
       min(SUM(state = 'succeeded' AND finished_at >= :now - 3600), :cap)
FROM conveyor_jobs
GROUP BY queue
ORDER BY queue
