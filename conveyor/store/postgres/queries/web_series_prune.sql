-- Rolled chart buckets older than any chart looks back.
DELETE FROM {schema}.conveyor_series_rollup
WHERE bucket_seconds = %(bucket)s AND bucket < %(before)s
