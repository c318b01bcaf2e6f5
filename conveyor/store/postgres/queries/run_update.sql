UPDATE {schema}.conveyor_runs
SET state = %(state)s,
    error = %(error)s,
    result = %(result)s,
    finished_at = CASE WHEN %(finished)s THEN extract(epoch FROM now())::float8 END,
    last_progress_at = CASE WHEN %(progressed)s THEN extract(epoch FROM now())::float8
        ELSE last_progress_at END,
    resumes = resumes + CASE WHEN %(resumed)s THEN 1 ELSE 0 END
WHERE id = %(id)s
