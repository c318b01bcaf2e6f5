-- Steps serve retries of their job: once it no longer waits or runs, and they are old, they go.
DELETE FROM {schema}.conveyor_steps
WHERE (job_id, name) IN (
    SELECT s.job_id, s.name FROM {schema}.conveyor_steps AS s
    WHERE s.created_at < extract(epoch FROM now())::float8 - %(keep)s
        AND NOT EXISTS (
            SELECT 1 FROM {schema}.conveyor_jobs AS j
            WHERE j.id = s.job_id AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
        )
    LIMIT %(limit)s
)
