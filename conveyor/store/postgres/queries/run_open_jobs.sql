-- The run's unfinished item jobs, through its stage ids (the items' primary key starts with
-- the stage id, so this probes an index however stale the statistics are).
SELECT i.job_id FROM {schema}.conveyor_stage_items AS i
WHERE i.stage_run_id = ANY(ARRAY(
        SELECT s.id FROM {schema}.conveyor_stage_runs AS s WHERE s.run_id = %(run_id)s
    ))
    AND i.state = 'queued'
ORDER BY i.job_id
