SELECT job_id, attempt, worker_id, extract(epoch FROM started_at)::float8,
       extract(epoch FROM finished_at)::float8, outcome, error_type, error_message, traceback
FROM {schema}.conveyor_attempts
WHERE job_id = %(job_id)s
ORDER BY id
