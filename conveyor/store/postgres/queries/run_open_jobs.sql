SELECT i.job_id FROM {schema}.conveyor_stage_items AS i
JOIN {schema}.conveyor_stage_runs AS s ON s.id = i.stage_run_id
WHERE s.run_id = %(run_id)s AND i.state = 'queued'
ORDER BY i.job_id
