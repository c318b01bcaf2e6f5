-- Steps serve retries of their job: once it no longer waits or runs, and they are old, they go.
DELETE FROM conveyor_steps
WHERE (job_id, name) IN (
    SELECT s.job_id, s.name FROM conveyor_steps AS s
    WHERE s.created_at < :now - :keep
        AND NOT EXISTS (
            SELECT 1 FROM conveyor_jobs AS j
            WHERE j.id = s.job_id AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
        )
    LIMIT :limit
)
