-- Rolled chart buckets of one size from a bucket on (conveyor.store.series_plans), marker rows
-- (queue '') included, along the primary key.
SELECT bucket, queue, succeeded, failed
FROM {schema}.conveyor_series_rollup
WHERE bucket_seconds = %(bucket)s AND bucket >= %(since)s
ORDER BY bucket, queue
