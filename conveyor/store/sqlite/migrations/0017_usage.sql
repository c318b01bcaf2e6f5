-- What each attempt cost (issue 16 item 7): written by workers in batches, apart from the
-- completion's statements, and deleted with its job. Read by time window (conveyor usage,
-- Budget alerts) and deleted by job.
CREATE TABLE conveyor_usage (
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant TEXT,
    finished_at REAL NOT NULL,
    wall REAL NOT NULL,
    cpu REAL NOT NULL,
    memory_mb REAL NOT NULL,
    units_json TEXT NOT NULL
) STRICT;
CREATE INDEX conveyor_usage_finished ON conveyor_usage (finished_at);
CREATE INDEX conveyor_usage_job ON conveyor_usage (job_id);
