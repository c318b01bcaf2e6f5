-- The runs of these jobs, locked in id order before any of their item or stage rows is
-- written, so two transactions advancing the same runs never wait on each other in a cycle.
-- Each step is "= ANY(ARRAY(...))" rather than a join or "IN (SELECT ...)": the planner then
-- probes each table's index with the ids, however stale its statistics (a join on a fresh
-- table's estimate scanned every stage row, per completion batch).
SELECT id, state FROM {schema}.conveyor_runs
WHERE id = ANY(ARRAY(
    SELECT s.run_id FROM {schema}.conveyor_stage_runs AS s
    WHERE s.id = ANY(ARRAY(
        SELECT i.stage_run_id FROM {schema}.conveyor_stage_items AS i
        WHERE i.job_id = ANY(ARRAY(
            SELECT value::bigint FROM jsonb_array_elements_text(%(job_ids)s::jsonb)
        ))
    ))
))
ORDER BY id
FOR UPDATE
