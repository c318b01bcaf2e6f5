-- The sequence keys of the jobs ids (the keys a write to them may have freed).
SELECT DISTINCT sequence_key
FROM {schema}.conveyor_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND sequence_key IS NOT NULL
