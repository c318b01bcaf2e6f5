SELECT r.id, s.stage, s.parents, s.input_override, r.input, r.state, s.fan_out,
    (SELECT i.input FROM {schema}.conveyor_stage_items AS i
     WHERE i.stage_run_id = s.id AND i.item = %(item)s)
FROM {schema}.conveyor_stage_runs AS s
JOIN {schema}.conveyor_runs AS r ON r.id = s.run_id
WHERE s.id = %(stage_run_id)s
