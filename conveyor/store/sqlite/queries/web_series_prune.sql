-- Rolled chart buckets older than any chart looks back.
DELETE FROM conveyor_series_rollup
WHERE bucket_seconds = :bucket AND bucket < :before
