UPDATE conveyor_stage_items SET state = 'succeeded'
WHERE stage_run_id = :stage_run_id AND item = -1
