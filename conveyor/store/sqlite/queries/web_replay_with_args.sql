-- One dead job, due now with new arguments and a fresh attempt count (history is kept).
UPDATE conveyor_jobs
SET args = :args,
    state = 'queued',
    run_at = :now,
    attempt = 0,
    finished_at = NULL,
    result = NULL,
    lease_until = NULL,
    worker_id = NULL
WHERE id = :id AND state = 'dead'
