SELECT queue,
       COUNT(*) FILTER (WHERE state IN ('queued', 'scheduled', 'retrying') AND run_at <= now()),
       COUNT(*) FILTER (WHERE state = 'scheduled' AND run_at > now()),
       COUNT(*) FILTER (WHERE state = 'running'),
       COUNT(*) FILTER (WHERE state = 'retrying' AND run_at > now()),
       COUNT(*) FILTER (WHERE state = 'dead'),
       extract(epoch FROM now() - MIN(run_at) FILTER (
           WHERE state IN ('queued', 'scheduled', 'retrying') AND run_at <= now()))::float8,
       COUNT(*) FILTER (WHERE state = 'succeeded' AND finished_at >= now() - interval '1 hour')
FROM {schema}.conveyor_jobs
GROUP BY queue
ORDER BY queue
