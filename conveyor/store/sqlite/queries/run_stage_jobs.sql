-- Which of these jobs are stage jobs of a run that still exists (their arguments point at a
-- stage run of that run): a retry or a dead-letter replay refuses them (see
-- run_plans.refuse_stage_jobs). Argument values that are not integers match nothing.
SELECT j.id, s.run_id, s.stage
FROM conveyor_jobs AS j
JOIN conveyor_stage_runs AS s
    ON s.id = json_extract(j.args, '$.stage_run_id')
    AND s.run_id = json_extract(j.args, '$.run_id')
WHERE j.id IN (SELECT value FROM json_each(:ids))
    AND json_type(j.args, '$.stage_run_id') = 'integer'
    AND json_type(j.args, '$.run_id') = 'integer'
ORDER BY j.id
