SELECT extract(epoch FROM MIN(run_at) - now())::float8
FROM {schema}.conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue = ANY(%(queues)s::text[])
  AND queue <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
  AND name = ANY(%(names)s::text[])
