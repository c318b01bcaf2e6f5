-- Per-queue counts read along indexes, each bounded: it stops at %(cap)s, so a million waiting
-- jobs cost no more than %(cap)s index entries (a count equal to the cap means "at least", and
-- the stats say so). The queues are found by a loose index scan on conveyor_jobs_state_queue
-- (one probe per state and queue, not per job). The waiting counts and the oldest ready job
-- are ranges of conveyor_jobs_waiting (queue, state, run_at), read index-only; each count
-- names the index's order so the planner never trades it for a scan that stops after
-- %(cap)s rows (where matches are sparse, that scan would read the whole table).
WITH RECURSIVE pairs AS (
    (SELECT state, queue FROM {schema}.conveyor_jobs ORDER BY state, queue LIMIT 1)
    UNION ALL
    SELECT n.state, n.queue
    FROM pairs AS p
    CROSS JOIN LATERAL (
        SELECT j.state, j.queue FROM {schema}.conveyor_jobs AS j
        WHERE (j.state, j.queue) > (p.state, p.queue)
        ORDER BY j.state, j.queue LIMIT 1
    ) AS n
),
queues AS (SELECT DISTINCT queue FROM pairs),
waiting AS (
    SELECT q.queue, s.state
    FROM queues AS q CROSS JOIN (VALUES ('queued'), ('scheduled'), ('retrying')) AS s(state)
),
per_state AS (
    SELECT w.queue, w.state,
           (SELECT COUNT(*) FROM (
                SELECT 1 FROM {schema}.conveyor_jobs AS j
                WHERE j.queue = w.queue AND j.state = w.state
                  AND j.state IN ('queued', 'scheduled', 'retrying') AND j.run_at <= now()
                ORDER BY j.queue, j.state, j.run_at
                LIMIT %(cap)s) AS c) AS due,
           (SELECT COUNT(*) FROM (
                SELECT 1 FROM {schema}.conveyor_jobs AS j
                WHERE j.queue = w.queue AND j.state = w.state
                  AND j.state IN ('queued', 'scheduled', 'retrying') AND j.run_at > now()
                ORDER BY j.queue, j.state, j.run_at
                LIMIT %(cap)s) AS c) AS later,
           (SELECT j.run_at FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = w.queue AND j.state = w.state
              AND j.state IN ('queued', 'scheduled', 'retrying')
            ORDER BY j.queue, j.state, j.run_at
            LIMIT 1) AS first_at
    FROM waiting AS w
),
per_queue AS (
    SELECT queue,
           -- bigint: a SUM of counts is numeric, which the driver reads as a Decimal.
           least(%(cap)s, SUM(due))::bigint AS ready,
           (SUM(later) FILTER (WHERE state = 'scheduled'))::bigint AS scheduled,
           (SUM(later) FILTER (WHERE state = 'retrying'))::bigint AS retrying,
           MIN(first_at) AS first_at
    FROM per_state
    GROUP BY queue
)
SELECT q.queue,
       w.ready,
       w.scheduled,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM {schema}.conveyor_jobs AS j
            WHERE j.state = 'running' AND j.queue = q.queue
            LIMIT %(cap)s) AS c),
       w.retrying,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM {schema}.conveyor_jobs AS j
            WHERE j.state = 'dead' AND j.queue = q.queue
            ORDER BY j.state, j.queue, j.name
            LIMIT %(cap)s) AS c),
       extract(epoch FROM now() - CASE WHEN w.first_at <= now() THEN w.first_at END)::float8,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM {schema}.conveyor_jobs AS j
            WHERE j.state = 'succeeded' AND j.finished_at >= now() - interval '1 hour'
              AND j.queue = q.queue
            LIMIT %(cap)s) AS c)
FROM queues AS q
JOIN per_queue AS w ON w.queue = q.queue
ORDER BY q.queue
