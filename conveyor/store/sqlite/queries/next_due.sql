-- A due limited job may be held back by its limit: it counts as due in a moment rather than
-- now, so a worker rechecks it soon instead of spinning on a claim that takes nothing.
SELECT MIN(CASE WHEN (limit_key IS NOT NULL OR rate_key IS NOT NULL) AND run_at <= :now
                THEN :now + :limited_recheck
                ELSE run_at END)
FROM conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  AND queue IN (SELECT value FROM json_each(:queues))
  AND queue NOT IN (SELECT name FROM conveyor_queues WHERE paused = 1)
  AND name IN (SELECT value FROM json_each(:names))
  -- Past its start deadline a job is never claimed again: nothing to wait for.
  AND (expires_at IS NULL OR expires_at > :now)
