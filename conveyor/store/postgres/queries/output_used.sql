SELECT j.state = 'running' AND j.token = %(token)s,
       (SELECT COALESCE(SUM(size), 0) FROM {schema}.conveyor_job_output WHERE job_id = j.id)
FROM {schema}.conveyor_jobs AS j
WHERE j.id = %(job_id)s
