-- A read before the claim's write: most rounds find nothing due, and a write transaction
-- each second from every worker would contend for SQLite's single write lock.
SELECT 1 FROM conveyor_job_webhooks
WHERE state = 'pending' AND next_try_at <= :now
LIMIT 1
