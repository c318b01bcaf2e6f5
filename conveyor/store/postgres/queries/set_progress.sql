UPDATE {schema}.conveyor_jobs
SET progress = %(fraction)s, progress_message = %(message)s
WHERE id = %(id)s AND state = 'running' AND token = %(token)s
