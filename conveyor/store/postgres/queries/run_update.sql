UPDATE {schema}.conveyor_runs
SET state = %(state)s,
    error = %(error)s,
    result = %(result)s,
    finished_at = CASE WHEN %(finished)s THEN extract(epoch FROM now())::float8 END,
    last_progress_at = CASE WHEN %(progressed)s THEN extract(epoch FROM now())::float8
        ELSE last_progress_at END,
    resumes = resumes + CASE WHEN %(resumed)s THEN 1 ELSE 0 END,
    -- A resume moves the deadline on by the time the run spent stopped, so the run gets back
    -- what it had left when it stopped (the right-hand side reads the row before the update).
    deadline_at = CASE WHEN %(resumed)s AND finished_at IS NOT NULL
        THEN deadline_at + (extract(epoch FROM now())::float8 - finished_at)
        ELSE deadline_at END
WHERE id = %(id)s
