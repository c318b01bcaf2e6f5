-- One dead job, due now with new arguments and a fresh attempt count (history is kept);
-- the NOTIFY wakes idle workers of its queue.
WITH replayed AS (
    UPDATE {schema}.conveyor_jobs
    SET args = %(args)s::jsonb,
        state = 'queued',
        run_at = now(),
        attempt = 0,
        finished_at = NULL,
        result = NULL,
        lease_until = NULL,
        worker_id = NULL
    WHERE id = %(id)s AND state = 'dead'
    RETURNING queue
)
SELECT pg_notify(%(channel)s, queue) FROM replayed
