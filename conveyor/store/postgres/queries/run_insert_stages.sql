INSERT INTO {schema}.conveyor_stage_runs (
    run_id, position, stage, state, parents, pending_parents, fan_out, on_item_failure, template
)
SELECT %(run_id)s, b.position, b.stage, 'waiting', b.parents, b.pending, b.fan_out, b.policy,
    b.template
FROM jsonb_to_recordset(%(batch)s::jsonb) AS b(
    position int, stage text, parents text, pending int, fan_out boolean, policy text,
    template text
)
RETURNING id, position
