-- Finished deliveries outlive nothing they report on: once the job is pruned or discarded
-- the row goes too. Pending rows stay until delivered or given up.
DELETE FROM {schema}.conveyor_job_webhooks
WHERE job_id IN (
    SELECT w.job_id FROM {schema}.conveyor_job_webhooks AS w
    WHERE w.state <> 'pending'
      AND NOT EXISTS (SELECT 1 FROM {schema}.conveyor_jobs AS j WHERE j.id = w.job_id)
    LIMIT %(limit)s
)
