-- A new finish replaces the job's row for an older one; the same finish again (another
-- notifier got there first) changes nothing: the second insert waits for the first one's
-- commit, then finds its row and leaves it.
INSERT INTO {schema}.conveyor_job_webhooks AS w
    (job_id, url, payload_json, finished_at, state, attempts, next_try_at)
SELECT t.job_id, t.url, t.payload_json, t.finished_at, 'pending', 0, now()
FROM unnest(%(job_ids)s::bigint[], %(urls)s::text[], %(payloads)s::text[],
            %(finished)s::float8[]) AS t(job_id, url, payload_json, finished_at)
ON CONFLICT (job_id) DO UPDATE SET
    url = excluded.url,
    payload_json = excluded.payload_json,
    finished_at = excluded.finished_at,
    state = 'pending',
    attempts = 0,
    next_try_at = excluded.next_try_at,
    last_error = NULL,
    delivered_at = NULL,
    created_at = now()
WHERE excluded.finished_at > w.finished_at
RETURNING w.job_id
