-- Unique jobs: a job with a unique_key holds it while active, and unique_for (seconds) extends the
-- hold past a successful finish, and a negative value keeps it as long as the job row exists.
ALTER TABLE conveyor_jobs ADD COLUMN unique_for REAL;

CREATE INDEX conveyor_jobs_unique ON conveyor_jobs (unique_key, id)
    WHERE unique_key IS NOT NULL;

-- ctx.once(): keys of guarded effects that committed, so a redelivered attempt skips them.
CREATE TABLE conveyor_once (
    key TEXT PRIMARY KEY,
    job_id INTEGER,
    created_at REAL NOT NULL
) STRICT;

CREATE INDEX conveyor_once_created ON conveyor_once (created_at);

-- Queue-level state that operators change at run time (pause and resume).
CREATE TABLE conveyor_queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL,
    changed_by TEXT
) STRICT;
