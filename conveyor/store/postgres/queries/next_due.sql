-- A due limited job may be held back by its limit: it counts as due in a moment rather than
-- now, so a worker rechecks it soon instead of spinning on a claim that takes nothing.
SELECT extract(epoch FROM MIN(
           CASE WHEN (limit_key IS NOT NULL OR rate_key IS NOT NULL) AND run_at <= now()
                THEN now() + make_interval(secs => %(limited_recheck)s)
                ELSE run_at END
       ) - now())::float8
FROM {schema}.conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue = ANY(%(queues)s::text[])
  AND queue <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
  AND name = ANY(%(names)s::text[])
  -- Past its start deadline a job is never claimed again: nothing to wait for.
  AND (expires_at IS NULL OR expires_at > now())
