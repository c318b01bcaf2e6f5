-- Per-queue counts, each bounded at :cap as on PostgreSQL (see its queue_counts.sql): the
-- queues by a loose index scan on conveyor_jobs_state_queue, the waiting counts and the
-- oldest ready job as ranges of conveyor_jobs_waiting (queue, state, run_at).
WITH RECURSIVE pairs(state, queue) AS (
    SELECT * FROM (SELECT state, queue FROM conveyor_jobs ORDER BY state, queue LIMIT 1)
    UNION ALL
    -- The next queue of the same state, else the first queue of the next state: two range
    -- probes (a row-value comparison would read every row of the current pair here).
    SELECT coalesce(
               CASE WHEN (SELECT j.queue FROM conveyor_jobs AS j
                          WHERE j.state = p.state AND j.queue > p.queue
                          ORDER BY j.queue LIMIT 1) IS NOT NULL THEN p.state END,
               (SELECT j.state FROM conveyor_jobs AS j WHERE j.state > p.state
                ORDER BY j.state LIMIT 1)),
           coalesce(
               (SELECT j.queue FROM conveyor_jobs AS j
                WHERE j.state = p.state AND j.queue > p.queue ORDER BY j.queue LIMIT 1),
               (SELECT j.queue FROM conveyor_jobs AS j
                WHERE j.state = (SELECT k.state FROM conveyor_jobs AS k WHERE k.state > p.state
                                 ORDER BY k.state LIMIT 1)
                ORDER BY j.queue LIMIT 1))
    FROM pairs AS p
    WHERE p.state IS NOT NULL
),
queues(queue) AS (SELECT DISTINCT queue FROM pairs WHERE queue IS NOT NULL),
per_state(queue, state, due, later, first_at) AS (
    SELECT q.queue, s.state,
           (SELECT COUNT(*) FROM (
                SELECT 1 FROM conveyor_jobs AS j
                WHERE j.queue = q.queue AND j.state = s.state AND j.run_at <= :now
                  AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
                LIMIT :cap)),
           (SELECT COUNT(*) FROM (
                SELECT 1 FROM conveyor_jobs AS j
                WHERE j.queue = q.queue AND j.state = s.state AND j.run_at > :now
                  AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
                LIMIT :cap)),
           (SELECT MIN(j.run_at) FROM conveyor_jobs AS j
            WHERE j.queue = q.queue AND j.state = s.state
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying'))
    FROM queues AS q
    CROSS JOIN (SELECT 'queued' AS state UNION ALL SELECT 'scheduled' UNION ALL SELECT 'retrying')
        AS s
),
per_queue(queue, ready, scheduled, retrying, first_at) AS (
    SELECT queue, min(SUM(due), :cap),
           SUM(CASE WHEN state = 'scheduled' THEN later ELSE 0 END),
           SUM(CASE WHEN state = 'retrying' THEN later ELSE 0 END),
           MIN(first_at)
    FROM per_state
    GROUP BY queue
)
SELECT q.queue, w.ready, w.scheduled,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM conveyor_jobs AS j WHERE j.state = 'running' AND j.queue = q.queue
            LIMIT :cap)),
       w.retrying,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM conveyor_jobs AS j WHERE j.state = 'dead' AND j.queue = q.queue
            LIMIT :cap)),
       CASE WHEN w.first_at <= :now THEN :now - w.first_at END,
       (SELECT COUNT(*) FROM (
            SELECT 1 FROM conveyor_jobs AS j
            WHERE j.state = 'succeeded' AND j.finished_at >= :now - 3600 AND j.queue = q.queue
            LIMIT :cap))
FROM queues AS q
JOIN per_queue AS w ON w.queue = q.queue
ORDER BY q.queue
