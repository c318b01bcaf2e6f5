-- The sequence keys of the jobs :ids (the keys a write to them may have freed).
SELECT DISTINCT sequence_key
FROM conveyor_jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND sequence_key IS NOT NULL
