-- A snooze waits like a delayed insert: run_at moves, the attempt is un-charged, the job's
-- error columns keep the last real failure, and its meta counts one more snooze.
UPDATE conveyor_jobs
SET state = :state,
    attempt = attempt + :attempt_delta,
    run_at = :now + :delay,
    lease_until = NULL,
    worker_id = NULL,
    meta = json_set(meta, '$.snoozes', coalesce(json_extract(meta, '$.snoozes'), 0) + 1)
WHERE id = :id AND state = 'running' AND token = :token
