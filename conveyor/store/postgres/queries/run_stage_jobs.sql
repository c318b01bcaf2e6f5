-- Which of these jobs are stage jobs of a run that still exists (their arguments point at a
-- stage run of that run): a retry or a dead-letter replay refuses them (see
-- run_plans.refuse_stage_jobs). Argument values that are not plain integers match nothing.
SELECT j.id, s.run_id, s.stage
FROM {schema}.conveyor_jobs AS j
JOIN {schema}.conveyor_stage_runs AS s
    ON s.id = CASE WHEN j.args->>'stage_run_id' ~ '^[0-9]{1,18}$'
        THEN (j.args->>'stage_run_id')::bigint END
    AND s.run_id = CASE WHEN j.args->>'run_id' ~ '^[0-9]{1,18}$'
        THEN (j.args->>'run_id')::bigint END
WHERE j.id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
    AND jsonb_typeof(j.args) = 'object'
ORDER BY j.id
