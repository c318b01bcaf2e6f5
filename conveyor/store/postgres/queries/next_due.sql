-- Seconds until the earliest waiting job of these queues and names is due, read along the
-- ready indexes only, however many jobs wait (issue 14: a MIN over every waiting row scanned a
-- million of them). Both ready indexes are ordered (queue, priority DESC, run_at, id), so the
-- earliest run_at of one queue and priority is the first entry of that range: the statement
-- first finds each queue's priorities (a loose index scan, one probe per priority), then reads
-- the head of each. Its cost grows with the number of distinct priorities, not of jobs.
-- A job past its start deadline is never claimed again: nothing to wait for, so the heads
-- skip it (the rescuer cancels it within seconds).
-- A due limited job may be held back by its limit: it counts as due in a moment rather than
-- now, so a worker rechecks it soon instead of spinning on a claim that takes nothing.
WITH RECURSIVE open AS (
    SELECT DISTINCT unnest(%(queues)s::text[]) AS queue
    EXCEPT
    SELECT name FROM {schema}.conveyor_queues WHERE paused
),
plain AS (
    SELECT o.queue,
           (SELECT j.priority FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = o.queue AND j.state IN ('queued', 'scheduled', 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
            ORDER BY j.priority DESC LIMIT 1) AS priority
    FROM open AS o
    UNION ALL
    SELECT p.queue,
           (SELECT j.priority FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = p.queue AND j.state IN ('queued', 'scheduled', 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM plain AS p
    WHERE p.priority IS NOT NULL
),
limited AS (
    SELECT o.queue,
           (SELECT j.priority FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = o.queue AND j.state IN ('queued', 'scheduled', 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
            ORDER BY j.priority DESC LIMIT 1) AS priority
    FROM open AS o
    UNION ALL
    SELECT l.queue,
           (SELECT j.priority FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = l.queue AND j.state IN ('queued', 'scheduled', 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL) AND j.priority < l.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM limited AS l
    WHERE l.priority IS NOT NULL
),
due AS (
    SELECT (SELECT j.run_at FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = p.queue AND j.priority = p.priority
              AND j.state IN ('queued', 'scheduled', 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
              AND j.name = ANY(%(names)s::text[])
              AND (j.expires_at IS NULL OR j.expires_at > now())
            ORDER BY j.run_at, j.id LIMIT 1) AS at
    FROM plain AS p
    WHERE p.priority IS NOT NULL
    UNION ALL
    SELECT CASE WHEN EXISTS (
               SELECT 1 FROM {schema}.conveyor_jobs AS j
               WHERE j.queue = l.queue AND j.priority = l.priority
                 AND j.state IN ('queued', 'scheduled', 'retrying')
                 AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
                 AND j.run_at <= now() AND j.name = ANY(%(names)s::text[])
              AND (j.expires_at IS NULL OR j.expires_at > now()))
           THEN now() + make_interval(secs => %(limited_recheck)s) END
    FROM limited AS l
    WHERE l.priority IS NOT NULL
    UNION ALL
    SELECT (SELECT j.run_at FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = l.queue AND j.priority = l.priority
              AND j.state IN ('queued', 'scheduled', 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
              AND j.run_at > now() AND j.name = ANY(%(names)s::text[])
              AND (j.expires_at IS NULL OR j.expires_at > now())
            ORDER BY j.run_at, j.id LIMIT 1)
    FROM limited AS l
    WHERE l.priority IS NOT NULL
)
SELECT extract(epoch FROM MIN(at) - now())::float8 FROM due
