INSERT INTO conveyor_steps (job_id, name, value, created_at)
SELECT :job_id, :name, :value, :now
WHERE EXISTS (
    SELECT 1 FROM conveyor_jobs WHERE id = :job_id AND state = 'running' AND token = :token
)
ON CONFLICT (job_id, name) DO NOTHING
