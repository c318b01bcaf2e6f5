SELECT id FROM conveyor_jobs
WHERE state = :state AND finished_at < :cutoff
  -- A succeeded job still holding its unique key (window open, or forever) is kept: deleting
  -- it would release the key early.
  AND NOT (
      state = 'succeeded' AND unique_key IS NOT NULL AND COALESCE(unique_for, 0) != 0
      AND (unique_for < 0 OR finished_at + unique_for > :now)
  )
  -- A dead job blocking its sequence (on_dead="block") is kept while later jobs of its key
  -- wait: pruning it would let them run without anyone replaying or discarding it.
  AND NOT (
      state = 'dead' AND sequence_blocks = 1 AND EXISTS (
          SELECT 1 FROM conveyor_jobs AS h
          WHERE h.sequence_key = conveyor_jobs.sequence_key AND h.state = 'held'
      )
  )
ORDER BY finished_at
LIMIT :limit
