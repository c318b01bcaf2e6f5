-- Locked in id order, so two transactions advancing the same runs never wait in a cycle.
SELECT id, state FROM {schema}.conveyor_runs
WHERE id IN (
    SELECT run_id FROM {schema}.conveyor_stage_runs
    WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text(%(stage_ids)s::jsonb))
)
ORDER BY id
FOR UPDATE
