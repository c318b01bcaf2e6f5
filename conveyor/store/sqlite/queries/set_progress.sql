UPDATE conveyor_jobs
SET progress = :fraction, progress_message = :message
WHERE id = :id AND state = 'running' AND token = :token
