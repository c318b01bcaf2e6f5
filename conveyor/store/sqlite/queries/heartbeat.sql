UPDATE conveyor_jobs
SET lease_until = :now + :lease_seconds
WHERE state = 'running'
  AND worker_id = :worker_id
  AND id IN (SELECT value FROM json_each(:ids))
RETURNING id, token
