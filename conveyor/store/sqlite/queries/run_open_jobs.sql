SELECT i.job_id FROM conveyor_stage_items AS i
JOIN conveyor_stage_runs AS s ON s.id = i.stage_run_id
WHERE s.run_id = :run_id AND i.state = 'queued'
ORDER BY i.job_id
