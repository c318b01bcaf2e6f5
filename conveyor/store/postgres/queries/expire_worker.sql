UPDATE {schema}.conveyor_jobs
SET lease_until = now() - interval '1 second'
WHERE state = 'running' AND worker_id = %(worker_id)s
