-- The state CHECK as an OR chain (issue 14 item 3, decision 113). SQLite codes an IN of three or
-- more constants as an ephemeral table, built again for every row an INSERT or an UPDATE of
-- `state` checks: one per job in the claim and one in its completion, the last such table
-- those statements built (0022 removed the partial indexes' ones). The same eight states as
-- plain comparisons need none. SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt as 0009 and 0021 did: the same columns in the same order, every row copied with
-- its id, every index made again as 0022 left it, and the AUTOINCREMENT sequence carried over
-- (no id is ever handed out twice). PostgreSQL needs nothing (its CHECK builds no table).
CREATE TEMP TABLE conveyor_jobs_seq AS
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'conveyor_jobs'), 0) AS seq;

CREATE TABLE conveyor_jobs_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (
        state = 'held' OR state = 'scheduled' OR state = 'queued' OR state = 'running'
        OR state = 'retrying' OR state = 'succeeded' OR state = 'dead' OR state = 'cancelled'
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
    rate_per REAL,
    expires_at REAL,
    progress_at REAL,
    sequence_key TEXT,
    sequence_blocks INTEGER
) STRICT;

INSERT INTO conveyor_jobs_rebuilt (
    id, queue, name, args, state, priority, attempt, max_attempts, token, run_at, created_at,
    started_at, finished_at, lease_until, worker_id, timeout, result, progress, progress_message,
    error_type, error_message, unique_key, tenant, meta, unique_for, limit_key, limit_max,
    rate_key, rate_max, rate_per, expires_at, progress_at, sequence_key, sequence_blocks
)
SELECT
    id, queue, name, args, state, priority, attempt, max_attempts, token, run_at, created_at,
    started_at, finished_at, lease_until, worker_id, timeout, result, progress, progress_message,
    error_type, error_message, unique_key, tenant, meta, unique_for, limit_key, limit_max,
    rate_key, rate_max, rate_per, expires_at, progress_at, sequence_key, sequence_blocks
FROM conveyor_jobs
ORDER BY id;

DROP TABLE conveyor_jobs;

ALTER TABLE conveyor_jobs_rebuilt RENAME TO conveyor_jobs;

DELETE FROM sqlite_sequence WHERE name IN ('conveyor_jobs', 'conveyor_jobs_rebuilt');

INSERT INTO sqlite_sequence (name, seq)
SELECT 'conveyor_jobs', max(
    (SELECT seq FROM conveyor_jobs_seq), coalesce((SELECT max(id) FROM conveyor_jobs), 0)
);

DROP TABLE conveyor_jobs_seq;

CREATE INDEX conveyor_jobs_leases ON conveyor_jobs (lease_until) WHERE state = 'running';

CREATE INDEX conveyor_jobs_worker ON conveyor_jobs (worker_id) WHERE state = 'running';

CREATE INDEX conveyor_jobs_state_queue ON conveyor_jobs (state, queue, name);

CREATE INDEX conveyor_jobs_unique ON conveyor_jobs (unique_key, id)
    WHERE unique_key IS NOT NULL;

CREATE INDEX conveyor_jobs_limit_running ON conveyor_jobs (limit_key)
    WHERE state = 'running' AND limit_key IS NOT NULL;

CREATE INDEX conveyor_jobs_list_dead ON conveyor_jobs (id) WHERE state = 'dead';

CREATE INDEX conveyor_jobs_notify ON conveyor_jobs (finished_at)
    WHERE json_extract(meta, '$.notify_url') IS NOT NULL;

CREATE INDEX conveyor_jobs_sequence ON conveyor_jobs (sequence_key, state, id)
    WHERE sequence_key IS NOT NULL;

CREATE INDEX conveyor_jobs_ready ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

CREATE INDEX conveyor_jobs_ready_limited
    ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND (limit_key IS NOT NULL OR rate_key IS NOT NULL);

CREATE INDEX conveyor_jobs_ready_tenant
    ON conveyor_jobs (queue, (coalesce(tenant, '')), priority DESC, run_at, id)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (state, finished_at)
    WHERE (state = 'succeeded' OR state = 'dead' OR state = 'cancelled');

CREATE INDEX conveyor_jobs_expiring ON conveyor_jobs (expires_at)
    WHERE expires_at IS NOT NULL
      AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying');

CREATE INDEX conveyor_jobs_waiting ON conveyor_jobs (queue, state, run_at)
    WHERE (state = 'queued' OR state = 'scheduled' OR state = 'retrying');
