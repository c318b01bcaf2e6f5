SELECT seq, attempt, at, chunk FROM conveyor_job_output
WHERE job_id = :job_id AND seq > :after
ORDER BY seq
LIMIT :limit
