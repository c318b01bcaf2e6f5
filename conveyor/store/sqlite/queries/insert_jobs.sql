INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at,
    timeout, unique_key, unique_for, tenant, meta, limit_key, limit_max, rate_key, rate_max,
    rate_per, expires_at, sequence_key, sequence_blocks
)
SELECT value ->> '$.queue', value ->> '$.name', value ->> '$.args',
       CASE WHEN value ->> '$.sequence_key' IS NOT NULL THEN :held_state
            WHEN value ->> '$.run_at' > :now THEN :later_state ELSE :due_state END,
       value ->> '$.priority', value ->> '$.max_attempts', value ->> '$.run_at', :now,
       value ->> '$.timeout', value ->> '$.unique_key', value ->> '$.unique_for',
       value ->> '$.tenant', value ->> '$.meta', value ->> '$.limit_key',
       value ->> '$.limit_max', value ->> '$.rate_key', value ->> '$.rate_max',
       value ->> '$.rate_per', value ->> '$.expires_at',
       value ->> '$.sequence_key', value ->> '$.sequence_blocks'
FROM json_each(:jobs)
ORDER BY key
RETURNING id, state, created_at
