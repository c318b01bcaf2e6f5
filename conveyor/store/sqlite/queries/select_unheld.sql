-- release_unheld: the running jobs of a worker that it does not hold (the [id, token] pairs it
-- names), e.g. claimed by a claim whose answer it never received. The release that follows
-- re-checks state and token.
SELECT id, token
FROM conveyor_jobs
WHERE state = 'running'
  AND worker_id = :worker_id
  AND NOT EXISTS (
      SELECT 1 FROM json_each(:held) AS h
      WHERE json_extract(h.value, '$[0]') = conveyor_jobs.id
        AND json_extract(h.value, '$[1]') = conveyor_jobs.token
  )
ORDER BY id
