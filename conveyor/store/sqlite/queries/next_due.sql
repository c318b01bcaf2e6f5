-- The earliest due time among waiting jobs of these queues and names, read along the ready
-- indexes only (as on PostgreSQL, see its next_due.sql): each queue's priority levels by a
-- loose index scan, then the head of each level. A MIN over every waiting row read a million
-- of them on every idle poll (750 ms).
-- A due limited job may be held back by its limit: it counts as due in a moment rather than
-- now, so a worker rechecks it soon instead of spinning on a claim that takes nothing.
WITH RECURSIVE open(queue) AS (
    SELECT DISTINCT value FROM json_each(:queues)
    WHERE value NOT IN (SELECT name FROM conveyor_queues WHERE paused = 1)
),
plain(queue, priority) AS (
    SELECT o.queue,
           (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.queue = o.queue
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
            ORDER BY j.priority DESC LIMIT 1)
    FROM open AS o
    UNION ALL
    SELECT p.queue,
           (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.queue = p.queue
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM plain AS p
    WHERE p.priority IS NOT NULL
),
limited(queue, priority) AS (
    SELECT o.queue,
           (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.queue = o.queue
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
            ORDER BY j.priority DESC LIMIT 1)
    FROM open AS o
    UNION ALL
    SELECT l.queue,
           (SELECT j.priority FROM conveyor_jobs AS j
            WHERE j.queue = l.queue
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL) AND j.priority < l.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM limited AS l
    WHERE l.priority IS NOT NULL
),
due(at) AS (
    SELECT (SELECT j.run_at FROM conveyor_jobs AS j
            WHERE j.queue = p.queue AND j.priority = p.priority
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
              AND j.name IN (SELECT value FROM json_each(:names))
              AND (j.expires_at IS NULL OR j.expires_at > :now)
            ORDER BY j.run_at, j.id LIMIT 1)
    FROM plain AS p
    WHERE p.priority IS NOT NULL
    UNION ALL
    SELECT CASE WHEN EXISTS (
               SELECT 1 FROM conveyor_jobs AS j
               WHERE j.queue = l.queue AND j.priority = l.priority
                 AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
                 AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
                 AND j.run_at <= :now AND j.name IN (SELECT value FROM json_each(:names))
              AND (j.expires_at IS NULL OR j.expires_at > :now))
           THEN :now + :limited_recheck END
    FROM limited AS l
    WHERE l.priority IS NOT NULL
    UNION ALL
    SELECT (SELECT j.run_at FROM conveyor_jobs AS j
            WHERE j.queue = l.queue AND j.priority = l.priority
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND (j.limit_key IS NOT NULL OR j.rate_key IS NOT NULL)
              AND j.run_at > :now AND j.name IN (SELECT value FROM json_each(:names))
              AND (j.expires_at IS NULL OR j.expires_at > :now)
            ORDER BY j.run_at, j.id LIMIT 1)
    FROM limited AS l
    WHERE l.priority IS NOT NULL
)
SELECT MIN(at) FROM due
