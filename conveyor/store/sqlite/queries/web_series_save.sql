-- One settled chart bucket's row; another dashboard may have rolled it first, with the same counts.
INSERT INTO conveyor_series_rollup (bucket_seconds, bucket, queue, succeeded, failed)
VALUES (:size, :bucket, :queue, :succeeded, :failed)
ON CONFLICT DO NOTHING
