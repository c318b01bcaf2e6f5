-- Rolled chart buckets of one size from a bucket on (conveyor.store.series_plans), marker rows
-- (queue '') included, along the primary key.
SELECT bucket, queue, succeeded, failed
FROM conveyor_series_rollup
WHERE bucket_seconds = :bucket AND bucket >= :since
ORDER BY bucket, queue
