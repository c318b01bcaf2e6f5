SELECT id FROM conveyor_jobs
WHERE state = :state AND finished_at < :cutoff
ORDER BY finished_at
LIMIT :limit
