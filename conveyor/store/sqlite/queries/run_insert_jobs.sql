-- A hand-off's stage jobs (run_graph.stage_job: a stage's template, due now, no unique key,
-- sequence or start deadline), each a JSON array in this column order: the template's fields
-- by position, not the general insert's object of every job option by name, which SQLite
-- parses key by key for each of ~20 fields. Ids in input order (ORDER BY key).
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at, timeout, tenant, meta,
    limit_key, limit_max, rate_key, rate_max, rate_per
)
SELECT value ->> 0, value ->> 1, value ->> 2, :due_state, value ->> 3, value ->> 4, :now, :now,
    value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10,
    value ->> 11, value ->> 12
FROM json_each(:jobs)
ORDER BY key
RETURNING id
