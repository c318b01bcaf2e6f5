-- The runs of these jobs, locked in id order as run_lock_runs.sql locks them, and in the same
-- statement a fan-out's usual batch applied at once (decision 134): when every item these
-- jobs end succeeded, is a fan-out's (item above 0) and belongs to one stage that the batch
-- leaves unfinished, that stage's count goes down and the items take their outputs; nothing
-- else of the run changes. Any other batch changes nothing here and takes the full advance
-- (run_finish_items.sql, then the stage rows), under the locks this statement took.
-- Lock order is the advance's: the jobs' rows (held since their completion), the runs, then
-- the stage row and the items. The stage row's count is read by its UPDATE at its newest
-- version (a writer that changed it since this statement's snapshot has committed: every
-- writer of a stage row holds its run's lock until then), and the items are these jobs'
-- own, which no other writer touches while their rows are held.
-- Each step is "= ANY(ARRAY(...))" rather than a join or "IN (SELECT ...)": the planner then
-- probes each table's index with the ids, however stale its statistics (a join on a fresh
-- table's estimate scanned every stage row, per completion batch).
-- Rows: each locked run (id, state) with the number of items counted down (0: none) and of
-- item rows written.
WITH job_ids AS MATERIALIZED (
    SELECT value::bigint AS id FROM jsonb_array_elements_text(%(job_ids)s::jsonb)
), batch AS MATERIALIZED (
    SELECT i.stage_run_id, i.item, j.state
    FROM {schema}.conveyor_stage_items AS i
    JOIN {schema}.conveyor_jobs AS j ON j.id = i.job_id
    WHERE i.job_id = ANY(ARRAY(SELECT id FROM job_ids))
      AND i.state = 'queued'
      AND j.state IN ('succeeded', 'dead', 'cancelled')
), shape AS MATERIALIZED (
    SELECT min(stage_run_id) AS stage_run_id, count(*) AS n
    FROM batch
    HAVING count(*) > 0 AND min(stage_run_id) = max(stage_run_id)
        AND bool_and(item >= 1 AND state = 'succeeded')
), locked AS MATERIALIZED (
    SELECT id, state FROM {schema}.conveyor_runs
    WHERE id = ANY(ARRAY(
        SELECT s.run_id FROM {schema}.conveyor_stage_runs AS s
        WHERE s.id = ANY(ARRAY(SELECT stage_run_id FROM batch))
    ))
    ORDER BY id
    FOR UPDATE
), counted AS (
    UPDATE {schema}.conveyor_stage_runs AS s
    SET items_left = s.items_left - shape.n
    FROM shape
    WHERE s.id = shape.stage_run_id
      AND (SELECT count(*) FROM locked) > 0
      AND s.fan_out AND s.state = 'active' AND s.items_left > shape.n
    RETURNING shape.n
), ended AS (
    UPDATE {schema}.conveyor_stage_items AS i
    SET state = 'succeeded', output = j.result::text, error = NULL
    FROM {schema}.conveyor_jobs AS j
    WHERE (SELECT count(*) FROM counted) > 0
      AND j.id = i.job_id
      AND i.job_id = ANY(ARRAY(SELECT id FROM job_ids))
      AND i.state = 'queued'
      AND j.state = 'succeeded'
    RETURNING 1
)
SELECT l.id, l.state, coalesce((SELECT max(n) FROM counted), 0), (SELECT count(*) FROM ended)
FROM locked AS l
ORDER BY l.id
