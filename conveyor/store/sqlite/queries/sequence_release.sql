-- Release the first held job (lowest id) of each key in :keys that is free: nothing of the key
-- waits to run, runs or retries, and no dead job of it blocks (on_dead="block"). The states are
-- the lifecycle's (parameters); read along conveyor_jobs_sequence.
UPDATE conveyor_jobs
SET state = CASE WHEN run_at > :now THEN :later_state ELSE :due_state END
WHERE id IN (
    SELECT MIN(h.id)
    FROM conveyor_jobs AS h
    WHERE h.sequence_key IN (SELECT value FROM json_each(:keys))
      AND h.state = :held_state
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_jobs AS o
          WHERE o.sequence_key = h.sequence_key
            AND (o.state IN ('scheduled', 'queued', 'running', 'retrying')
                 OR (o.state = 'dead' AND o.sequence_blocks = 1))
      )
    GROUP BY h.sequence_key
)
RETURNING id, state
