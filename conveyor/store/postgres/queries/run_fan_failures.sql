-- The failed and cancelled items of a fan-out stage whose policy is "collect", in item order:
-- what its child gets beside the outputs.
SELECT item, input, error FROM {schema}.conveyor_stage_items
WHERE stage_run_id = %(stage_run_id)s AND item >= 0 AND state IN ('failed', 'cancelled')
ORDER BY item
