-- Each run of the batch (the advance writes every run a completion batch moved at once).
UPDATE {schema}.conveyor_runs AS r
SET state = b.state,
    error = b.error,
    result = b.result,
    finished_at = CASE WHEN b.finished THEN extract(epoch FROM now())::float8 END,
    last_progress_at = CASE WHEN b.progressed THEN extract(epoch FROM now())::float8
        ELSE r.last_progress_at END,
    resumes = r.resumes + CASE WHEN b.resumed THEN 1 ELSE 0 END,
    -- A resume moves the deadline on by the time the run spent stopped, so the run gets back
    -- what it had left when it stopped (the right-hand side reads the row before the update).
    deadline_at = CASE WHEN b.resumed AND r.finished_at IS NOT NULL
        THEN r.deadline_at + (extract(epoch FROM now())::float8 - r.finished_at)
        ELSE r.deadline_at END
FROM jsonb_to_recordset(%(runs)s::jsonb) AS b(
    id bigint, state text, error text, result text, finished boolean, progressed boolean,
    resumed boolean
)
WHERE r.id = b.id
    -- The ids again as an array: an index probe, not a scan of every run (see run_lock_count_down).
    AND r.id = ANY(ARRAY(
        SELECT (value->>'id')::bigint FROM jsonb_array_elements(%(runs)s::jsonb)
    ))
