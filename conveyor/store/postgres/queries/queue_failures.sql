SELECT j.queue, COUNT(*)
FROM {schema}.conveyor_attempts AS a
JOIN {schema}.conveyor_jobs AS j ON j.id = a.job_id
WHERE a.finished_at >= now() - interval '1 hour'
  AND a.outcome IN ('failed', 'dead', 'lost')
GROUP BY j.queue
