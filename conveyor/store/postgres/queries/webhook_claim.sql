-- SKIP LOCKED: a row another notifier is claiming right now is left to it, and once that
-- claim commits its pushed-back next_try_at no longer matches.
WITH due AS (
    SELECT job_id FROM {schema}.conveyor_job_webhooks
    WHERE state = 'pending' AND next_try_at <= now()
    ORDER BY next_try_at, job_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.conveyor_job_webhooks AS w
SET next_try_at = now() + make_interval(secs => %(lease)s::float8)
FROM due
WHERE w.job_id = due.job_id
RETURNING w.job_id, w.url, w.payload_json, w.finished_at, w.state, w.attempts,
          extract(epoch FROM w.next_try_at)::float8, w.last_error,
          extract(epoch FROM w.delivered_at)::float8, extract(epoch FROM w.created_at)::float8
