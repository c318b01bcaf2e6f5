SELECT limit_key, limit_max, rate_key, rate_max, rate_per
FROM conveyor_jobs
WHERE id = :id
