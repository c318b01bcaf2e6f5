-- progress_at moves only when the value or message does: a worker repeating the same
-- fraction is not progress, so a stalled job stays stalled.
UPDATE {schema}.conveyor_jobs
SET progress_at = CASE
        WHEN progress IS DISTINCT FROM %(fraction)s::float8
          OR progress_message IS DISTINCT FROM %(message)s::text
        THEN now() ELSE progress_at END,
    progress = %(fraction)s, progress_message = %(message)s
WHERE id = %(id)s AND state = 'running' AND token = %(token)s
