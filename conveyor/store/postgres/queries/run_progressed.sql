-- Runs still running whose stage finished: their progress time is all that changes (the
-- hand-off's usual write; run_update writes the runs whose state, result or error changed).
-- Its parameter is named apart from run_update's: write_back may send both in one statement.
UPDATE {schema}.conveyor_runs SET last_progress_at = extract(epoch FROM now())::float8
WHERE id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(progressed)s::jsonb)))
