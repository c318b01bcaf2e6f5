-- Job ids are never handed out twice. Without AUTOINCREMENT SQLite gives a new row the
-- largest id in the table plus one, so discarding or pruning the newest job freed its id for
-- the next enqueue, and a handle, a webhook, an audit row or a ctx.once record naming the old
-- job then named the new one. SQLite cannot alter a column into AUTOINCREMENT: the table is
-- rebuilt with the same columns in the same order, every row copied with its id, and every
-- index made again (0001, 0002, 0003, 0004, 0007 and 0008 defined them). No foreign key
-- refers to it. The attempts table keeps its ids: nothing outside the store sees them.
CREATE TABLE conveyor_jobs_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (
        state IN ('scheduled', 'queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled')
    ),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0,
    run_at REAL NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    lease_until REAL,
    worker_id TEXT,
    timeout REAL,
    result TEXT,
    progress REAL,
    progress_message TEXT,
    error_type TEXT,
    error_message TEXT,
    unique_key TEXT,
    tenant TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    unique_for REAL,
    limit_key TEXT,
    limit_max INTEGER,
    rate_key TEXT,
    rate_max INTEGER,
    rate_per REAL
) STRICT;

INSERT INTO conveyor_jobs_rebuilt (
    id, queue, name, args, state, priority, attempt, max_attempts, token, run_at, created_at,
    started_at, finished_at, lease_until, worker_id, timeout, result, progress,
    progress_message, error_type, error_message, unique_key, tenant, meta, unique_for,
    limit_key, limit_max, rate_key, rate_max, rate_per
)
SELECT id, queue, name, args, state, priority, attempt, max_attempts, token, run_at, created_at,
       started_at, finished_at, lease_until, worker_id, timeout, result, progress,
       progress_message, error_type, error_message, unique_key, tenant, meta, unique_for,
       limit_key, limit_max, rate_key, rate_max, rate_per
FROM conveyor_jobs
ORDER BY id;

DROP TABLE conveyor_jobs;

ALTER TABLE conveyor_jobs_rebuilt RENAME TO conveyor_jobs;

-- The sequence starts past every id already given out that left a trace, not only past the
-- rows still here: a discarded or pruned job may still be named by an attempt, a ctx.once
-- record, a schedule slot, a webhook delivery or an operator action ('job:<id>').
DELETE FROM sqlite_sequence WHERE name IN ('conveyor_jobs', 'conveyor_jobs_rebuilt');

INSERT INTO sqlite_sequence (name, seq)
SELECT 'conveyor_jobs', max(
    coalesce((SELECT max(id) FROM conveyor_jobs), 0),
    coalesce((SELECT max(job_id) FROM conveyor_attempts), 0),
    coalesce((SELECT max(job_id) FROM conveyor_once), 0),
    coalesce((SELECT max(job_id) FROM conveyor_schedule_slots), 0),
    coalesce((SELECT max(job_id) FROM conveyor_job_webhooks), 0),
    coalesce((SELECT max(CAST(substr(target, 5) AS INTEGER)) FROM conveyor_actions
              WHERE target LIKE 'job:%'), 0)
);

CREATE INDEX conveyor_jobs_ready ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

CREATE INDEX conveyor_jobs_ready_limited
    ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND (limit_key IS NOT NULL OR rate_key IS NOT NULL);

CREATE INDEX conveyor_jobs_ready_tenant
    ON conveyor_jobs (queue, (coalesce(tenant, '')), priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

CREATE INDEX conveyor_jobs_leases ON conveyor_jobs (lease_until) WHERE state = 'running';

CREATE INDEX conveyor_jobs_worker ON conveyor_jobs (worker_id) WHERE state = 'running';

CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (state, finished_at)
    WHERE state IN ('succeeded', 'dead', 'cancelled');

CREATE INDEX conveyor_jobs_state_queue ON conveyor_jobs (state, queue, name);

CREATE INDEX conveyor_jobs_unique ON conveyor_jobs (unique_key, id)
    WHERE unique_key IS NOT NULL;

CREATE INDEX conveyor_jobs_limit_running ON conveyor_jobs (limit_key)
    WHERE state = 'running' AND limit_key IS NOT NULL;

CREATE INDEX conveyor_jobs_list_dead ON conveyor_jobs (id) WHERE state = 'dead';

CREATE INDEX conveyor_jobs_notify ON conveyor_jobs (finished_at)
    WHERE json_extract(meta, '$.notify_url') IS NOT NULL;
