-- The jobs holding any of the keys now: active ones, and succeeded ones inside their unique_for
-- window (a negative unique_for holds forever). clock_timestamp(), not now(): the transaction
-- may have waited for the key locks, or be the caller's long-open one. Newest holder last.
SELECT unique_key, id, state, name,
       CASE WHEN state = 'succeeded' AND unique_for > 0
            THEN extract(epoch FROM finished_at)::float8 + unique_for END,
       extract(epoch FROM created_at)::float8
FROM {schema}.conveyor_jobs
WHERE unique_key = ANY(%(keys)s::text[])
  AND (
      state IN ('scheduled', 'queued', 'running', 'retrying')
      OR (state = 'succeeded' AND (
          unique_for < 0 OR finished_at + make_interval(secs => unique_for) > clock_timestamp()
      ))
  )
ORDER BY id
