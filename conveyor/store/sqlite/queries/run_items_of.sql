SELECT stage_run_id, item, state, input, output, error, job_id
FROM conveyor_stage_items
WHERE stage_run_id IN (SELECT value FROM json_each(:ids))
ORDER BY stage_run_id, item
