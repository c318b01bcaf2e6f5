-- What each attempt cost (issue 16 item 7): written by workers in batches, apart from the
-- completion's statements, and deleted with its job. Read by time window (conveyor usage,
-- Budget alerts) and deleted by job.
CREATE TABLE {schema}.conveyor_usage (
    job_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant TEXT,
    finished_at DOUBLE PRECISION NOT NULL,
    wall DOUBLE PRECISION NOT NULL,
    cpu DOUBLE PRECISION NOT NULL,
    memory_mb DOUBLE PRECISION NOT NULL,
    units_json TEXT NOT NULL
);
CREATE INDEX conveyor_usage_finished ON {schema}.conveyor_usage (finished_at);
CREATE INDEX conveyor_usage_job ON {schema}.conveyor_usage (job_id);
