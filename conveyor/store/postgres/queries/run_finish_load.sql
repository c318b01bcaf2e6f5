-- Follows "WITH ended AS (run_finish_items.sql)" (see PostgresRunDialect.finish_and_load):
-- the locked runs' stage rows (as run_load_stages.sql), each with the items of it that this
-- statement ended as a JSON array of [item, state, error, output].
SELECT s.id, s.run_id, s.stage, s.state, s.parents, s.pending_parents, s.fan_out,
    s.on_item_failure, s.items_total, s.items_left, s.items_failed, s.template, s.error,
    s.input_override, s.started_at, s.finished_at,
    (SELECT json_agg(json_build_array(e.item, e.state, e.error, e.output) ORDER BY e.item)
     FROM ended AS e WHERE e.stage_run_id = s.id)
FROM {schema}.conveyor_stage_runs AS s
WHERE s.run_id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(run_ids)s::jsonb)))
ORDER BY s.run_id, s.position
