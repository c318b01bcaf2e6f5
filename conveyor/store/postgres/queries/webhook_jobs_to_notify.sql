-- Finishes that have no delivery yet: a job without a row, or whose row reports an older
-- finish (it was retried and finished again). The `meta ? 'notify_url'` term is the partial
-- index's predicate, which is what lets the planner read conveyor_jobs_notify. A row's
-- event_at holds the job's epoch seconds exactly as this dialect computes them.
SELECT j.id, j.queue, j.name, j.args::text, j.state, j.priority, j.attempt, j.max_attempts,
       extract(epoch FROM j.run_at)::float8, extract(epoch FROM j.created_at)::float8,
       extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.finished_at)::float8,
       extract(epoch FROM j.lease_until)::float8, j.worker_id, j.result::text, j.progress,
       j.progress_message, j.error_type, j.error_message, j.timeout, j.unique_key, j.tenant,
       j.meta::text, extract(epoch FROM j.expires_at)::float8
FROM {schema}.conveyor_jobs AS j
WHERE j.meta ? 'notify_url'
  AND j.finished_at >= to_timestamp(%(since)s::float8)
  AND j.state IN ('succeeded', 'dead', 'cancelled')
  AND NOT EXISTS (
      SELECT 1 FROM {schema}.conveyor_deliveries AS w
      WHERE w.kind = 'webhook' AND w.subject = j.id
        AND w.event_at >= extract(epoch FROM j.finished_at)::float8
  )
ORDER BY j.finished_at, j.id
LIMIT %(limit)s
