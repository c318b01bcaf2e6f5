UPDATE conveyor_jobs
SET state = :state,
    finished_at = :now,
    lease_until = NULL,
    result = :result,
    error_type = :error_type,
    error_message = :error_message
WHERE id = :id AND state = 'running' AND token = :token
