SELECT stage_run_id, item, state,
    CASE WHEN %(below)s::bigint IS NULL OR item < %(below)s::bigint THEN input END,
    CASE WHEN %(below)s::bigint IS NULL OR item < %(below)s::bigint THEN output END,
    CASE WHEN %(below)s::bigint IS NULL OR item < %(below)s::bigint THEN error END,
    job_id
FROM {schema}.conveyor_stage_items
WHERE stage_run_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
ORDER BY stage_run_id, item
