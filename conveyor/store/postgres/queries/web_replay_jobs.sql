-- Fresh attempts for the matching dead jobs ({where} is the caller's JobFilter), as
-- retry_jobs gives them: attempt 0, no result, no lease; the attempts table keeps their
-- history. Oldest death first, the i-th is due i times the spacing from now; one due
-- later waits as 'scheduled', like a delayed insert. The state is checked again on the
-- locked row, so a job another replay or retry took first is skipped, not taken twice.
WITH picked AS (
    SELECT id, row_number() OVER (ORDER BY finished_at, id) - 1 AS place
    FROM {schema}.conveyor_jobs
    WHERE state = 'dead' AND ({where})
),
replayed AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = CASE WHEN p.place * %(spacing)s > 0 THEN 'scheduled' ELSE 'queued' END,
        run_at = now() + make_interval(secs => p.place * %(spacing)s),
        attempt = 0,
        finished_at = NULL,
        result = NULL,
        lease_until = NULL,
        worker_id = NULL
    FROM picked AS p
    WHERE j.id = p.id AND j.state = 'dead'
    RETURNING j.id, j.queue, p.place
),
woken AS (
    -- Workers idle on LISTEN claim the replayed jobs at once (payload: the queue name).
    SELECT pg_notify(%(channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM replayed) AS q
)
SELECT replayed.id, replayed.place
FROM replayed, (SELECT COUNT(*) FROM woken) AS notified
