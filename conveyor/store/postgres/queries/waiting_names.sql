-- The (queue, name) pairs with ready jobs. For each waiting state, a loose index scan on
-- conveyor_jobs_state_queue finds its distinct (queue, name) pairs, one probe each, however
-- many jobs share them; then one probe per pair for a job of it that is due: for queued jobs
-- (due when enqueued) the first of the pair on the same index; for scheduled and retrying
-- ones, whose jobs mostly wait for a later time, among the pair's queue's due jobs of that
-- state on conveyor_jobs_waiting (queue, state, run_at). Each probe is a scalar subquery whose
-- ORDER BY names the index meant (an EXISTS would drop the ORDER BY and may scan the table).
-- The queued probe bounds the name on both sides instead of equating it: with all three
-- columns equal the ORDER BY is redundant, and on a table of few distinct states (millions of
-- finished jobs, a few queued) the planner took a sequential scan that stops at the first
-- match, read every finished row before it and cost seconds per monitor round (decision 117).
WITH RECURSIVE triples AS (
    SELECT s.state, f.queue, f.name
    FROM (VALUES ('queued'), ('scheduled'), ('retrying')) AS s(state)
    CROSS JOIN LATERAL (
        SELECT j.queue, j.name FROM {schema}.conveyor_jobs AS j
        WHERE j.state = s.state
        ORDER BY j.state, j.queue, j.name LIMIT 1
    ) AS f
    UNION ALL
    SELECT t.state, n.queue, n.name
    FROM triples AS t
    CROSS JOIN LATERAL (
        SELECT j.queue, j.name FROM {schema}.conveyor_jobs AS j
        WHERE j.state = t.state AND (j.queue, j.name) > (t.queue, t.name)
        ORDER BY j.state, j.queue, j.name LIMIT 1
    ) AS n
)
SELECT DISTINCT t.queue, t.name
FROM triples AS t
WHERE (t.state = 'queued' AND (
          SELECT true FROM {schema}.conveyor_jobs AS j
          WHERE j.state = t.state AND j.queue = t.queue
            AND j.name >= t.name AND j.name <= t.name
            AND j.run_at <= now()
          ORDER BY j.state, j.queue, j.name LIMIT 1))
   OR (t.state <> 'queued' AND (
          SELECT true FROM {schema}.conveyor_jobs AS j
          WHERE j.queue = t.queue AND j.state = t.state
            AND j.state IN ('queued', 'scheduled', 'retrying') AND j.run_at <= now()
            -- coalesce: the name only filters here, so the due range is what is read
            AND coalesce(j.name, '') = t.name
          ORDER BY j.queue, j.state, j.run_at LIMIT 1))
ORDER BY t.queue, t.name
