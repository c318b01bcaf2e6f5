-- Unique jobs: a job with a unique_key holds it while active, and unique_for (seconds) extends the
-- hold past a successful finish, and a negative value keeps it as long as the job row exists.
ALTER TABLE {schema}.conveyor_jobs ADD COLUMN unique_for DOUBLE PRECISION;

CREATE INDEX conveyor_jobs_unique ON {schema}.conveyor_jobs (unique_key, id)
    WHERE unique_key IS NOT NULL;

-- ctx.once(): keys of guarded effects that committed, so a redelivered attempt skips them.
CREATE TABLE {schema}.conveyor_once (
    key TEXT PRIMARY KEY,
    job_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX conveyor_once_created ON {schema}.conveyor_once (created_at);

-- Queue-level state that operators change at run time (pause and resume).
CREATE TABLE {schema}.conveyor_queues (
    name TEXT PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT false,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    changed_by TEXT
);
