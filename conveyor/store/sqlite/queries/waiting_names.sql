-- The (queue, name) pairs with ready jobs, as on PostgreSQL (see its waiting_names.sql): per
-- waiting state, a loose index scan on conveyor_jobs_state_queue, then one probe per pair for a
-- due job of it.
WITH RECURSIVE triples(state, queue, name) AS (
    SELECT s.state,
           (SELECT j.queue FROM conveyor_jobs AS j WHERE j.state = s.state
            ORDER BY j.state, j.queue, j.name LIMIT 1),
           (SELECT j.name FROM conveyor_jobs AS j WHERE j.state = s.state
            ORDER BY j.state, j.queue, j.name LIMIT 1)
    FROM (SELECT 'queued' AS state UNION ALL SELECT 'scheduled' UNION ALL SELECT 'retrying')
        AS s
    UNION ALL
    -- The next name in the same queue, else the first name of the next queue: two range
    -- probes (a row-value comparison would read every job of the current pair here).
    SELECT t.state,
           coalesce(
               CASE WHEN (SELECT j.name FROM conveyor_jobs AS j
                          WHERE j.state = t.state AND j.queue = t.queue AND j.name > t.name
                          ORDER BY j.name LIMIT 1) IS NOT NULL THEN t.queue END,
               (SELECT j.queue FROM conveyor_jobs AS j
                WHERE j.state = t.state AND j.queue > t.queue ORDER BY j.queue LIMIT 1)),
           coalesce(
               (SELECT j.name FROM conveyor_jobs AS j
                WHERE j.state = t.state AND j.queue = t.queue AND j.name > t.name
                ORDER BY j.name LIMIT 1),
               (SELECT j.name FROM conveyor_jobs AS j
                WHERE j.state = t.state
                  AND j.queue = (SELECT k.queue FROM conveyor_jobs AS k
                                 WHERE k.state = t.state AND k.queue > t.queue
                                 ORDER BY k.queue LIMIT 1)
                ORDER BY j.name LIMIT 1))
    FROM triples AS t
    WHERE t.queue IS NOT NULL
)
SELECT DISTINCT t.queue, t.name
FROM triples AS t
WHERE t.queue IS NOT NULL
  AND EXISTS (
      SELECT 1 FROM conveyor_jobs AS j INDEXED BY conveyor_jobs_waiting
      WHERE j.queue = t.queue AND j.state = t.state AND j.run_at <= :now
        AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
        AND j.name = t.name
  )
ORDER BY t.queue, t.name
