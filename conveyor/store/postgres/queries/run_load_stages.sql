SELECT id, run_id, stage, state, parents, pending_parents, fan_out, on_item_failure,
    items_total, items_left, items_failed, template, error, input_override, started_at,
    finished_at
FROM {schema}.conveyor_stage_runs
WHERE run_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(run_ids)s::jsonb)))
ORDER BY run_id, position
