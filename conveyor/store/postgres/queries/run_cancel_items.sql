UPDATE {schema}.conveyor_stage_items SET state = 'cancelled', error = 'cancelled with its run'
WHERE job_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
    AND state = 'queued'
RETURNING stage_run_id
