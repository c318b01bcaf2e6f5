SELECT j.queue, COUNT(*)
FROM conveyor_attempts AS a
JOIN conveyor_jobs AS j ON j.id = a.job_id
WHERE a.finished_at >= :now - 3600
  AND a.outcome IN ('failed', 'dead', 'lost')
GROUP BY j.queue
