-- A finished run goes with its stages and items (ON DELETE CASCADE); a running one never.
DELETE FROM {schema}.conveyor_runs
WHERE id IN (
    SELECT id FROM {schema}.conveyor_runs
    WHERE state IN ('succeeded', 'failed', 'cancelled')
        AND finished_at < extract(epoch FROM now())::float8 - %(keep)s
    ORDER BY finished_at
    LIMIT %(limit)s
)
