-- A hand-off's stage jobs (run_graph.stage_job: a stage's template, due now, no unique key,
-- sequence or start deadline). :templates holds each template once, a JSON array of its
-- options in this column order; :jobs holds each job as [template index, arguments text]. A
-- fan-out's thousands of jobs share one template: each row parses its two values, not the
-- ~20 fields of the general insert's object. Ids in input order (ORDER BY key).
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at, timeout, tenant, meta,
    limit_key, limit_max, rate_key, rate_max, rate_per
)
SELECT t.value ->> 0, t.value ->> 1, j.value ->> 1, :due_state, t.value ->> 2, t.value ->> 3,
    :now, :now, t.value ->> 4, t.value ->> 5, t.value ->> 6, t.value ->> 7, t.value ->> 8,
    t.value ->> 9, t.value ->> 10, t.value ->> 11
FROM json_each(:jobs) AS j
JOIN json_each(:templates) AS t ON t.key = j.value ->> 0
ORDER BY j.key
RETURNING id
