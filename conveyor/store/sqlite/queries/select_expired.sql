SELECT id, token, attempt, max_attempts, worker_id, started_at
FROM conveyor_jobs
WHERE state = 'running' AND lease_until < :now
ORDER BY lease_until
LIMIT :limit
