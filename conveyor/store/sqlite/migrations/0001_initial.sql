CREATE TABLE conveyor_jobs (
    id INTEGER PRIMARY KEY,
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
    meta TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX conveyor_jobs_ready ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying');

CREATE INDEX conveyor_jobs_leases ON conveyor_jobs (lease_until) WHERE state = 'running';

CREATE INDEX conveyor_jobs_worker ON conveyor_jobs (worker_id) WHERE state = 'running';

CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (state, finished_at)
    WHERE state IN ('succeeded', 'dead', 'cancelled');

CREATE INDEX conveyor_jobs_state_queue ON conveyor_jobs (state, queue, name);

CREATE TABLE conveyor_attempts (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    token INTEGER NOT NULL,
    worker_id TEXT,
    started_at REAL,
    finished_at REAL,
    outcome TEXT NOT NULL,
    error_type TEXT,
    error_message TEXT,
    traceback TEXT
) STRICT;

CREATE INDEX conveyor_attempts_job ON conveyor_attempts (job_id, id);

CREATE INDEX conveyor_attempts_finished ON conveyor_attempts (finished_at);

CREATE TABLE conveyor_workers (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    names TEXT NOT NULL,
    started_at REAL NOT NULL,
    last_seen REAL NOT NULL
) STRICT;
