-- A lapsed attempt counted as failed, to be retried: run_at is kept, so the job goes back to
-- its place in claim order (priority, run_at, id) instead of behind every job enqueued while
-- it was held. The token guard refuses a row another rescuer or the attempt itself finished.
UPDATE conveyor_jobs
SET state = :state,
    lease_until = NULL,
    worker_id = NULL,
    error_type = :error_type,
    error_message = :error_message
WHERE id = :id AND state = 'running' AND token = :token
