SELECT job_id, url, payload_json, finished_at, state, attempts,
       extract(epoch FROM next_try_at)::float8, last_error,
       extract(epoch FROM delivered_at)::float8, extract(epoch FROM created_at)::float8
FROM {schema}.conveyor_job_webhooks
WHERE job_id = %(job_id)s
