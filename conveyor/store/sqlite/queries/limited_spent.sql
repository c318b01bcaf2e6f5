-- The limited pass, step 2: running jobs per concurrency key (through the small partial index
-- of running limited jobs) and live starts per rate key.
SELECT 'limit', limit_key, COUNT(*), MIN(limit_max)
FROM conveyor_jobs INDEXED BY conveyor_jobs_limit_running
WHERE state = 'running' AND limit_key IS NOT NULL
  AND limit_key IN (SELECT value FROM json_each(:limit_keys))
GROUP BY limit_key
UNION ALL
SELECT 'rate', key, COUNT(*), MIN(rate_max)
FROM conveyor_rate_starts
WHERE key IN (SELECT value FROM json_each(:rate_keys)) AND expires_at > :now
GROUP BY key
