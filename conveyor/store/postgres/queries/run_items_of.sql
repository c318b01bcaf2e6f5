SELECT stage_run_id, item, state, input, output, error, job_id
FROM {schema}.conveyor_stage_items
WHERE stage_run_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
ORDER BY stage_run_id, item
