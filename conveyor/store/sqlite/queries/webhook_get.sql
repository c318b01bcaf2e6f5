SELECT job_id, url, payload_json, finished_at, state, attempts, next_try_at, last_error,
       delivered_at, created_at
FROM conveyor_job_webhooks
WHERE job_id = :job_id
