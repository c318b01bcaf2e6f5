-- A starting stage job's parents in one read (what stage_output needs): each parent's shape,
-- and a plain parent's item with it; a stage with no item yet (and every fan-out stage,
-- whose items run_fan_outputs reads) gives one row, its item columns NULL.
SELECT s.id, s.stage, s.fan_out, s.on_item_failure, i.item, i.state, i.input, i.output, i.error
FROM {schema}.conveyor_stage_runs AS s
LEFT JOIN {schema}.conveyor_stage_items AS i ON i.stage_run_id = s.id AND NOT s.fan_out
WHERE s.run_id = %(run_id)s
    AND s.stage IN (SELECT value FROM jsonb_array_elements_text(%(parents)s::jsonb))
ORDER BY s.id, i.item
