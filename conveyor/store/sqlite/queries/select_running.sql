SELECT id, token, attempt, worker_id, started_at
FROM conveyor_jobs
WHERE state = 'running' AND id IN (SELECT value FROM json_each(:ids))
