-- One queue's best ready plain jobs by priority, run_at, id: the fair order of
-- claim_candidates.sql when the queue's ready jobs belong to one tenant group, read straight
-- from the ready index. The last columns stand for the turn (the same for every job here), the
-- tenant and the jobs read per tenant (``limit``: nothing that could come first is left unread).
SELECT id, priority, run_at, 0, '', :limit
FROM conveyor_jobs
WHERE state IN ('queued', 'scheduled', 'retrying')
  -- Plain jobs only (the conveyor_jobs_ready index); limited ones take their own pass.
  AND limit_key IS NULL AND rate_key IS NULL
  AND queue = :queue
  AND run_at <= :now
  -- A job past its start deadline is never handed out (the rescuer cancels it).
  AND (expires_at IS NULL OR expires_at > :now)
  AND name IN (SELECT value FROM json_each(:names))
ORDER BY priority DESC, run_at, id
LIMIT :limit
