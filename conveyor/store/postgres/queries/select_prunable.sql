SELECT id FROM {schema}.conveyor_jobs
WHERE state = %(state)s AND finished_at < now() - make_interval(secs => %(keep)s)
ORDER BY finished_at
LIMIT %(limit)s
