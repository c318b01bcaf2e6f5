-- The items of stage jobs that became final take the job's outcome (once: only queued items).
UPDATE {schema}.conveyor_stage_items AS i
SET state = CASE j.state WHEN 'succeeded' THEN 'succeeded' WHEN 'dead' THEN 'failed'
        ELSE 'cancelled' END,
    output = CASE WHEN j.state = 'succeeded' THEN j.result::text END,
    error = CASE WHEN j.state = 'succeeded' THEN NULL
        ELSE coalesce(j.error_type || ': ', '') || coalesce(j.error_message, j.state) END
FROM {schema}.conveyor_jobs AS j
WHERE j.id = i.job_id
    AND i.job_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
    AND i.state = 'queued'
    AND j.state IN ('succeeded', 'dead', 'cancelled')
-- The output goes back only where the advance can use it (a plain stage's, item 0, handed
-- to its children): a fan-out's items' outputs stay in the table, however large.
RETURNING i.stage_run_id, i.item, i.state, i.error,
    CASE WHEN i.item = 0 THEN i.output END AS output
