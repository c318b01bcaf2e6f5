DELETE FROM conveyor_stage_items WHERE stage_run_id IN (SELECT value FROM json_each(:stage_ids))
