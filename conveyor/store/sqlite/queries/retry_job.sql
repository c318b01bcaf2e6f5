UPDATE conveyor_jobs
SET state = :state,
    run_at = :now + :delay,
    lease_until = NULL,
    worker_id = NULL,
    error_type = :error_type,
    error_message = :error_message
WHERE id = :id AND state = 'running' AND token = :token
