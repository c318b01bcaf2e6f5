-- release_unheld: the running jobs of a worker that it does not hold (the (id, token) pairs it
-- names), e.g. claimed by a claim whose answer it never received. The release that follows
-- re-checks state and token, so a job completed or rescued meanwhile is left alone.
SELECT j.id, j.token
FROM {schema}.conveyor_jobs AS j
WHERE j.state = 'running' AND j.worker_id = %(worker_id)s
  AND NOT EXISTS (
      SELECT 1 FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS h(id, token)
      WHERE h.id = j.id AND h.token = j.token
  )
ORDER BY j.id
