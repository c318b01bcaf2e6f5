-- A new finish replaces the job's row for an older one; the same finish again (another
-- notifier got there first) changes nothing.
INSERT INTO conveyor_job_webhooks
    (job_id, url, payload_json, finished_at, state, attempts, next_try_at, created_at)
VALUES (:job_id, :url, :payload_json, :finished_at, 'pending', 0, :now, :now)
ON CONFLICT (job_id) DO UPDATE SET
    url = excluded.url,
    payload_json = excluded.payload_json,
    finished_at = excluded.finished_at,
    state = 'pending',
    attempts = 0,
    next_try_at = excluded.next_try_at,
    last_error = NULL,
    delivered_at = NULL,
    created_at = excluded.created_at
WHERE excluded.finished_at > conveyor_job_webhooks.finished_at
