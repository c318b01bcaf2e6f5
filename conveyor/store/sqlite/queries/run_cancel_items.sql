UPDATE conveyor_stage_items SET state = 'cancelled', error = 'cancelled with its run'
WHERE job_id IN (SELECT value FROM json_each(:ids)) AND state = 'queued'
RETURNING stage_run_id
