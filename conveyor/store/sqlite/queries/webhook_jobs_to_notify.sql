-- Finishes that have no delivery yet: a job without a row, or whose row reports an older
-- finish (it was retried and finished again). INDEXED BY: without statistics SQLite would
-- rather walk every recent finish along conveyor_jobs_finished, so a busy app's jobs without
-- a URL would cost each round. The json_extract term repeats the partial index's predicate
-- word for word, which is what makes that index usable.
SELECT j.id, j.queue, j.name, j.args, j.state, j.priority, j.attempt, j.max_attempts,
       j.run_at, j.created_at, j.started_at, j.finished_at, j.lease_until, j.worker_id,
       j.result, j.progress, j.progress_message, j.error_type, j.error_message, j.timeout,
       j.unique_key, j.tenant, j.meta, j.expires_at
FROM conveyor_jobs AS j INDEXED BY conveyor_jobs_notify
WHERE json_extract(meta, '$.notify_url') IS NOT NULL
  AND j.finished_at >= :since
  AND (j.state = 'succeeded' OR j.state = 'dead' OR j.state = 'cancelled')
  AND NOT EXISTS (
      SELECT 1 FROM conveyor_deliveries AS w
      WHERE w.kind = 'webhook' AND w.subject = j.id AND w.event_at >= j.finished_at
  )
ORDER BY j.finished_at, j.id
LIMIT :limit
