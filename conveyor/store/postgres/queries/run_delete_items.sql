DELETE FROM {schema}.conveyor_stage_items
WHERE stage_run_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(stage_ids)s::jsonb)))
