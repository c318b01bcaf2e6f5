-- Rowids grow with insertion, so the oldest records come first: looking only at the first
-- :limit rows bounds the work without an index on created_at.
DELETE FROM conveyor_once
WHERE rowid IN (SELECT rowid FROM conveyor_once ORDER BY rowid LIMIT :limit)
  AND created_at < :cutoff
