-- One settled chart bucket's row; another dashboard may have rolled it first, with the same counts.
INSERT INTO {schema}.conveyor_series_rollup (bucket_seconds, bucket, queue, succeeded, failed)
VALUES (%(size)s, %(bucket)s, %(queue)s, %(succeeded)s, %(failed)s)
ON CONFLICT DO NOTHING
