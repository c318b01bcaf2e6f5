-- A read before the claim's write: most rounds find nothing due, and a write transaction
-- each second from every worker would contend for SQLite's single write lock.
SELECT 1 FROM conveyor_deliveries
WHERE state = 'pending' AND next_try_at <= :now
  AND (lease_until IS NULL OR lease_until <= :now)
  AND kind IN (SELECT value FROM json_each(:kinds))
LIMIT 1
