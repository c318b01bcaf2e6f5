-- Wait for the claims in flight that hold a stopped run's queued jobs (decision 141): lock
-- those still waiting, in id order, waiting for their holders. A claim's row comes back from
-- its commit as running and drops out here (the state is tested again on the row version the
-- wait ends with); the rest are locked until this transaction ends. No run's lock is held
-- yet: job rows first, then the run, the order every writer of a run keeps.
SELECT id FROM {schema}.conveyor_jobs
WHERE id = ANY(ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb)))
    AND state IN ('queued', 'scheduled', 'retrying')
ORDER BY id
FOR UPDATE
