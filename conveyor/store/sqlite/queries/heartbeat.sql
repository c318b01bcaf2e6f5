UPDATE conveyor_jobs
SET lease_until = :now + :lease_seconds
WHERE state = 'running'
  AND worker_id = :worker_id
  AND EXISTS (
      SELECT 1 FROM json_each(:held) AS h
      WHERE json_extract(h.value, '$[0]') = conveyor_jobs.id
        AND json_extract(h.value, '$[1]') = conveyor_jobs.token
  )
RETURNING id, token
