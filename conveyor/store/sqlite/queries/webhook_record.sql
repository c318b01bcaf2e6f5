-- Every attempt counts, the successful one too. The guard (same finish, same attempts, still
-- pending) makes a late or repeated report change nothing.
UPDATE conveyor_job_webhooks
SET attempts = attempts + 1,
    state = CASE
        WHEN :error IS NULL THEN 'delivered'
        WHEN :retry_in IS NULL THEN 'failed'
        ELSE 'pending'
    END,
    delivered_at = CASE WHEN :error IS NULL THEN :now END,
    last_error = COALESCE(:error, last_error),
    next_try_at = CASE
        WHEN :error IS NOT NULL AND :retry_in IS NOT NULL THEN :now + :retry_in
        ELSE next_try_at
    END
WHERE job_id = :job_id AND finished_at = :finished_at AND attempts = :attempts
  AND state = 'pending'
