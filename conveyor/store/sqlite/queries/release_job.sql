UPDATE conveyor_jobs
SET state = :state,
    attempt = attempt + :attempt_delta,
    lease_until = NULL,
    worker_id = NULL
WHERE id = :id AND state = 'running' AND token = :token
