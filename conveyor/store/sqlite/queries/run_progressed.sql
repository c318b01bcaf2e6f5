-- Runs still running whose stage finished: their progress time is all that changes (the
-- hand-off's usual write; run_update writes the runs whose state, result or error changed).
UPDATE conveyor_runs SET last_progress_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
