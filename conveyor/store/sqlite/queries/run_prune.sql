-- A finished run goes with its stages and items (ON DELETE CASCADE); a running one never.
DELETE FROM conveyor_runs
WHERE id IN (
    SELECT id FROM conveyor_runs
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < :now - :keep
    ORDER BY finished_at
    LIMIT :limit
)
