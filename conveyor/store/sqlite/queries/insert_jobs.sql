INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at,
    timeout, unique_key, unique_for, tenant, meta
)
SELECT value ->> '$.queue', value ->> '$.name', value ->> '$.args',
       CASE WHEN value ->> '$.run_at' > :now THEN 'scheduled' ELSE 'queued' END,
       value ->> '$.priority', value ->> '$.max_attempts', value ->> '$.run_at', :now,
       value ->> '$.timeout', value ->> '$.unique_key', value ->> '$.unique_for',
       value ->> '$.tenant', value ->> '$.meta'
FROM json_each(:jobs)
ORDER BY key
RETURNING id, state
