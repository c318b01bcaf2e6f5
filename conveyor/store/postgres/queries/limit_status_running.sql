-- Running jobs of one concurrency key (the conveyor_jobs_limit_running index), oldest first.
SELECT id, limit_max
FROM {schema}.conveyor_jobs
WHERE state = 'running' AND limit_key = %(key)s
ORDER BY id
