SELECT id FROM conveyor_jobs
WHERE state = :state AND finished_at < :cutoff
  -- A succeeded job still holding its unique key (window open, or forever) is kept: deleting
  -- it would release the key early.
  AND NOT (
      state = 'succeeded' AND unique_key IS NOT NULL AND COALESCE(unique_for, 0) != 0
      AND (unique_for < 0 OR finished_at + unique_for > :now)
  )
ORDER BY finished_at
LIMIT :limit
