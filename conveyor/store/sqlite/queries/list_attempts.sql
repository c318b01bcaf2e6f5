SELECT job_id, attempt, worker_id, started_at, finished_at, outcome,
       error_type, error_message, traceback
FROM conveyor_attempts
WHERE job_id = :job_id
ORDER BY id
