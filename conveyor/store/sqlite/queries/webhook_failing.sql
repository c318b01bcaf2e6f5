-- The conditions repeat conveyor_job_webhooks_failing's so only failing rows are read.
SELECT job_id, url, payload_json, finished_at, state, attempts, next_try_at, last_error,
       delivered_at, created_at
FROM conveyor_job_webhooks
WHERE last_error IS NOT NULL AND state <> 'delivered'
ORDER BY job_id DESC
LIMIT :limit
