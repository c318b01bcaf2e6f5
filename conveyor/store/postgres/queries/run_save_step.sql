INSERT INTO {schema}.conveyor_steps (job_id, name, value, created_at)
SELECT %(job_id)s, %(name)s, %(value)s, extract(epoch FROM now())::float8
WHERE EXISTS (
    SELECT 1 FROM {schema}.conveyor_jobs
    WHERE id = %(job_id)s AND state = 'running' AND token = %(token)s
)
ON CONFLICT (job_id, name) DO NOTHING
