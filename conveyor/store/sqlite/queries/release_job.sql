UPDATE conveyor_jobs
SET state = 'queued',
    attempt = attempt - 1,
    lease_until = NULL,
    worker_id = NULL
WHERE id = :id AND state = 'running' AND token = :token
