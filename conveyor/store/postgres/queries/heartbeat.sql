WITH seen AS (
    UPDATE {schema}.conveyor_workers SET last_seen = now() WHERE id = %(worker_id)s
)
UPDATE {schema}.conveyor_jobs AS j
SET lease_until = now() + make_interval(secs => %(lease_seconds)s)
FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS h(id, token)
WHERE j.id = h.id AND j.token = h.token AND j.state = 'running'
  AND j.worker_id = %(worker_id)s
RETURNING j.id
