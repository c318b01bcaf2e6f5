UPDATE conveyor_jobs
SET lease_until = :now - 1
WHERE state = 'running' AND worker_id = :worker_id
