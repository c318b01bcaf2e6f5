UPDATE {schema}.conveyor_stage_items SET state = 'succeeded'
WHERE stage_run_id = %(stage_run_id)s AND item = -1
