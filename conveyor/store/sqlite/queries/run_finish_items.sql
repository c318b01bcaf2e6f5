-- The items of stage jobs that became final take the job's outcome (once: only queued items).
UPDATE conveyor_stage_items AS i
SET state = CASE j.state WHEN 'succeeded' THEN 'succeeded' WHEN 'dead' THEN 'failed'
        ELSE 'cancelled' END,
    output = CASE WHEN j.state = 'succeeded' THEN j.result END,
    error = CASE WHEN j.state = 'succeeded' THEN NULL
        ELSE coalesce(j.error_type || ': ', '') || coalesce(j.error_message, j.state) END
FROM conveyor_jobs AS j
WHERE j.id = i.job_id
    AND i.job_id IN (SELECT value FROM json_each(:ids))
    AND i.state = 'queued'
    -- The unary + keeps the planner off the (state, finished_at) index: driven by it, every
    -- completion batch walked every finished job in the table (the ids' probes are the plan).
    AND +j.state IN ('succeeded', 'dead', 'cancelled')
-- The output goes back only where the advance can use it (a plain stage's, item 0, handed
-- to its children): a fan-out's items' outputs stay in the table, however large.
RETURNING stage_run_id, item, state, error,
    CASE WHEN item = 0 THEN output END AS output
