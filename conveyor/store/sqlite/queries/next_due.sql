SELECT MIN(run_at)
FROM conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue IN (SELECT value FROM json_each(:queues))
  AND queue NOT IN (SELECT name FROM conveyor_queues WHERE paused = 1)
  AND name IN (SELECT value FROM json_each(:names))
