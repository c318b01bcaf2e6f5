-- release_unheld: the (id, token) of every running job of a worker (as many as its slots, plus
-- any a claim took whose answer was lost); the shared plan drops those the worker holds. The
-- release that follows re-checks state and token, so a job completed or rescued meanwhile is
-- left alone.
SELECT id, token
FROM {schema}.conveyor_jobs
WHERE state = 'running' AND worker_id = %(worker_id)s
ORDER BY id
