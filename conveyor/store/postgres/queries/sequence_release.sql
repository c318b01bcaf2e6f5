-- Release the first held job (lowest id) of each key in keys that is free: nothing of the key
-- waits to run, runs or retries, and no dead job of it blocks (on_dead="block"). The states are
-- the lifecycle's (parameters); read along conveyor_jobs_sequence. Run only while the keys'
-- advisory locks are held (sequence_lock.sql), as a statement of its own: under READ COMMITTED
-- it then sees every job of the keys committed before the locks were granted.
WITH picked AS (
    SELECT MIN(h.id) AS id
    FROM {schema}.conveyor_jobs AS h
    WHERE h.sequence_key = ANY(%(keys)s::text[])
      AND h.state = %(held_state)s
      AND NOT EXISTS (
          SELECT 1 FROM {schema}.conveyor_jobs AS o
          WHERE o.sequence_key = h.sequence_key
            AND (o.state IN ('scheduled', 'queued', 'running', 'retrying')
                 OR (o.state = 'dead' AND o.sequence_blocks))
      )
    GROUP BY h.sequence_key
),
released AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = CASE WHEN j.run_at > now() THEN %(later_state)s ELSE %(due_state)s END
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.state, j.queue
),
-- Wake the workers of the queues a released job waits in.
woken AS (
    SELECT pg_notify(%(channel)s, q.queue) FROM (SELECT DISTINCT queue FROM released) AS q
)
SELECT released.id, released.state
FROM released, (SELECT COUNT(*) FROM woken) AS notified
