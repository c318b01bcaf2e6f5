-- The dead jobs a replay takes, oldest death first; {where} is the caller's JobFilter.
SELECT id
FROM conveyor_jobs
WHERE state = 'dead' AND ({where})
ORDER BY finished_at, id
