SELECT MIN(run_at)
FROM conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue IN (SELECT value FROM json_each(:queues))
  AND name IN (SELECT value FROM json_each(:names))
