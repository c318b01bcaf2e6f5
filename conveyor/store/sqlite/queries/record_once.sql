INSERT INTO conveyor_once (key, job_id, created_at)
VALUES (:key, :job_id, :now)
ON CONFLICT (key) DO NOTHING
