SELECT seq, attempt, at, chunk FROM {schema}.conveyor_job_output
WHERE job_id = %(job_id)s AND seq > %(after)s
ORDER BY seq
LIMIT %(limit)s
