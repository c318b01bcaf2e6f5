SELECT j.state = 'running' AND j.token = :token,
       (SELECT COALESCE(SUM(size), 0) FROM conveyor_job_output WHERE job_id = j.id)
FROM conveyor_jobs AS j
WHERE j.id = :job_id
