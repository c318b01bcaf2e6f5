INSERT INTO conveyor_stage_runs (
    run_id, position, stage, state, parents, pending_parents, fan_out, on_item_failure, template
)
SELECT :run_id, b.value ->> 'position', b.value ->> 'stage', 'waiting', b.value ->> 'parents',
    b.value ->> 'pending', b.value ->> 'fan_out', b.value ->> 'policy', b.value ->> 'template'
FROM json_each(:batch) AS b
RETURNING id, position
