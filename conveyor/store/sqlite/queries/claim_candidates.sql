SELECT id, priority, run_at
FROM conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue = :queue
  AND run_at <= :now
  AND name IN (SELECT value FROM json_each(:names))
ORDER BY priority DESC, run_at, id
LIMIT :limit
