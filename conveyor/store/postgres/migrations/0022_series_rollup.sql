-- Settled chart buckets (issue 14, item 6; conveyor.store.series_plans): the dashboard's chart
-- counts of buckets that ended long enough ago that nothing can still land in them, kept so a
-- first view of the overview reads a day chart's 24 rows instead of a day of finished jobs. A
-- row with queue '' marks its bucket as rolled up, also when nothing finished in it.
CREATE TABLE {schema}.conveyor_series_rollup (
    bucket_seconds DOUBLE PRECISION NOT NULL,
    bucket DOUBLE PRECISION NOT NULL,
    queue TEXT NOT NULL,
    succeeded BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    PRIMARY KEY (bucket_seconds, bucket, queue)
);
