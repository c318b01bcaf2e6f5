-- A fan-out stage's output as its child gets it: the outputs of its succeeded items in item
-- order, and nothing else of its rows (a fan-in over 100,000 items reads 100,000 texts, not
-- 100,000 whole rows). The primary key's order is the item order: no sort.
SELECT output FROM {schema}.conveyor_stage_items
WHERE stage_run_id = %(stage_run_id)s AND item >= 0 AND state = 'succeeded'
ORDER BY item
