SELECT s.id, s.run_id FROM {schema}.conveyor_stage_items AS i
JOIN {schema}.conveyor_stage_runs AS s ON s.id = i.stage_run_id
WHERE i.job_id = %(job_id)s AND i.item = -1 AND i.state = 'queued'
