-- Fresh attempts for the picked (and locked) dead jobs, as retry_jobs gives them: attempt 0,
-- no result, no lease, no snoozes counted, no start deadline; the attempts table keeps their history. Per job, the target state is
-- the lifecycle's, decided by the caller, and it is due delay seconds from now. %(args)s, when
-- given, replaces the arguments (a replay with new ones).
WITH replayed AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = m.state,
        run_at = now() + make_interval(secs => m.delay),
        args = coalesce(%(args)s::jsonb, j.args),
        attempt = 0,
        meta = j.meta - 'snoozes',
        expires_at = NULL,
        finished_at = NULL,
        result = NULL,
        lease_until = NULL,
        worker_id = NULL
    FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(delays)s::float8[]) AS m(id, state, delay)
    WHERE j.id = m.id AND j.state = 'dead'
    RETURNING j.id, j.queue
),
woken AS (
    -- Workers idle on LISTEN claim the replayed jobs at once (payload: the queue name).
    SELECT pg_notify(%(channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM replayed) AS q
)
SELECT replayed.id
FROM replayed, (SELECT COUNT(*) FROM woken) AS notified
