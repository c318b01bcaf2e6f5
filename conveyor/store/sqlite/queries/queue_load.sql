-- Attempts finished since a point, per queue, with their run time added up: read along
-- conveyor_attempts_finished, so only the window's attempts are visited. An attempt with no
-- start (lost before it began) adds no run time.
SELECT j.queue, COUNT(*), COALESCE(SUM(a.finished_at - a.started_at), 0.0)
FROM conveyor_attempts AS a
JOIN conveyor_jobs AS j ON j.id = a.job_id
WHERE a.finished_at >= :since
GROUP BY j.queue
ORDER BY j.queue
