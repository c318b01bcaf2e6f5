-- Code-declared schedules, one batch: a new one starts now, an existing one takes the new
-- definition but keeps its run-time state (created_at, paused, last_slot). A row whose
-- definition did not change is not written at all, so every worker can sync at start for free.
-- Rows go in name order so two workers syncing at once lock them in the same order (the
-- caller sends one row per name: an upsert may not touch a row twice).
INSERT INTO {schema}.conveyor_schedules AS s (
    name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
    overlap, source, paused, paused_by, created_at, updated_at, last_slot
)
SELECT r.name, r.job_name, r.timing, r.tz, r.args_json, r.queue, r.priority, r.grace,
       r.catch_up, r.catch_up_cap, r.overlap, 'code', r.paused, r.paused_by, now(), now(),
       r.last_slot
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
    name text, job_name text, timing text, tz text, args_json text, queue text, priority int,
    grace float8, catch_up text, catch_up_cap int, overlap text, paused boolean,
    paused_by text, last_slot float8
)
ORDER BY r.name
ON CONFLICT (name) DO UPDATE
SET job_name = excluded.job_name,
    timing = excluded.timing,
    tz = excluded.tz,
    args_json = excluded.args_json,
    queue = excluded.queue,
    priority = excluded.priority,
    grace = excluded.grace,
    catch_up = excluded.catch_up,
    catch_up_cap = excluded.catch_up_cap,
    overlap = excluded.overlap,
    source = 'code',
    updated_at = excluded.updated_at
WHERE (s.job_name, s.timing, s.tz, s.args_json, s.queue, s.priority, s.grace, s.catch_up,
       s.catch_up_cap, s.overlap, s.source)
      IS DISTINCT FROM
      (excluded.job_name, excluded.timing, excluded.tz, excluded.args_json, excluded.queue,
       excluded.priority, excluded.grace, excluded.catch_up, excluded.catch_up_cap,
       excluded.overlap, 'code')
