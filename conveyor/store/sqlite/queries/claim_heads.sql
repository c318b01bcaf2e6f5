-- One queue's best ready plain jobs by priority, run_at, id: the fair order of
-- claim_candidates.sql when the queue's ready jobs belong to one tenant group, read straight
-- from the ready index. The last columns stand for the turn (the same for every job here), the
-- tenant and the jobs read per tenant (``limit``: nothing that could come first is left unread).
SELECT id, priority, run_at, 0, '', :limit
-- Named: the ready index already holds the claim order, so the first :limit entries are the
-- answer; conveyor_jobs_waiting (queue, state, run_at) also covers this WHERE, and SQLite took
-- it and sorted every waiting job (162 jobs/s at a million queued instead of 18,000).
FROM conveyor_jobs INDEXED BY conveyor_jobs_ready
WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
  -- Plain jobs only (the conveyor_jobs_ready index); limited ones take their own pass.
  AND limit_key IS NULL AND rate_key IS NULL
  AND queue = :queue
  AND run_at <= :now
  -- A job past its start deadline is never handed out (the rescuer cancels it).
  AND (expires_at IS NULL OR expires_at > :now)
  AND name IN (SELECT value FROM json_each(:names))
ORDER BY priority DESC, run_at, id
LIMIT :limit
