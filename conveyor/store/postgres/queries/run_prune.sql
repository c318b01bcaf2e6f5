-- A finished run goes with its stages (ON DELETE CASCADE) and its items (deleted here: their
-- rows have no foreign key, decision 144); a running one never.
WITH chosen AS MATERIALIZED (
    SELECT id FROM {schema}.conveyor_runs
    WHERE state IN ('succeeded', 'failed', 'cancelled')
        AND finished_at < extract(epoch FROM now())::float8 - %(keep)s
    ORDER BY finished_at
    LIMIT %(limit)s
), items AS (
    DELETE FROM {schema}.conveyor_stage_items
    WHERE stage_run_id = ANY(ARRAY(
        SELECT s.id FROM {schema}.conveyor_stage_runs AS s
        WHERE s.run_id = ANY(ARRAY(SELECT id FROM chosen))
    ))
)
DELETE FROM {schema}.conveyor_runs
WHERE id = ANY(ARRAY(SELECT id FROM chosen))
