SELECT id, token, attempt, max_attempts, worker_id
FROM {schema}.conveyor_jobs
WHERE state = 'running' AND lease_until < now()
ORDER BY lease_until
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
