SELECT coalesce(output, 'null')
FROM {schema}.conveyor_stage_items
WHERE stage_run_id = %(stage_run_id)s AND item >= 0 AND state = 'succeeded'
ORDER BY item
LIMIT %(limit)s OFFSET %(offset)s
