-- The runs of these jobs, locked in id order before any of their item or stage rows is
-- written, so two transactions advancing the same runs never wait on each other in a cycle.
SELECT id, state FROM {schema}.conveyor_runs
WHERE id IN (
    SELECT s.run_id FROM {schema}.conveyor_stage_items AS i
    JOIN {schema}.conveyor_stage_runs AS s ON s.id = i.stage_run_id
    WHERE i.job_id IN (SELECT value::bigint FROM jsonb_array_elements_text(%(job_ids)s::jsonb))
)
ORDER BY id
FOR UPDATE
