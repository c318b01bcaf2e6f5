-- The jobs holding any of :keys now: active ones, and succeeded ones inside their unique_for
-- window (a negative unique_for holds forever). Ordered by id so the newest holder wins.
SELECT unique_key, id, state, name,
       CASE WHEN state = 'succeeded' AND unique_for > 0 THEN finished_at + unique_for END,
       created_at
FROM conveyor_jobs
WHERE unique_key IN (SELECT value FROM json_each(:keys))
  AND (
      state IN ('scheduled', 'queued', 'running', 'retrying')
      OR (state = 'succeeded' AND (unique_for < 0 OR finished_at + unique_for > :now))
  )
ORDER BY id
