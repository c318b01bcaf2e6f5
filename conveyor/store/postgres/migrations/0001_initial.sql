CREATE TABLE {schema}.conveyor_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue TEXT NOT NULL,
    name TEXT NOT NULL,
    args JSONB NOT NULL,
    state TEXT NOT NULL CHECK (
        state IN ('scheduled', 'queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled')
    ),
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    token BIGINT NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    lease_until TIMESTAMPTZ,
    worker_id TEXT,
    timeout DOUBLE PRECISION,
    result JSONB,
    progress DOUBLE PRECISION,
    progress_message TEXT,
    error_type TEXT,
    error_message TEXT,
    unique_key TEXT,
    tenant TEXT,
    meta JSONB NOT NULL DEFAULT '{}'
) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02);

CREATE INDEX conveyor_jobs_ready ON {schema}.conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying');

CREATE INDEX conveyor_jobs_leases ON {schema}.conveyor_jobs (lease_until)
    WHERE state = 'running';

CREATE INDEX conveyor_jobs_worker ON {schema}.conveyor_jobs (worker_id)
    WHERE state = 'running';

CREATE INDEX conveyor_jobs_finished ON {schema}.conveyor_jobs (state, finished_at)
    WHERE state IN ('succeeded', 'dead', 'cancelled');

CREATE INDEX conveyor_jobs_state_queue ON {schema}.conveyor_jobs (state, queue, name);

CREATE TABLE {schema}.conveyor_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    token BIGINT NOT NULL,
    worker_id TEXT,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    outcome TEXT NOT NULL,
    error_type TEXT,
    error_message TEXT,
    traceback TEXT
);

CREATE INDEX conveyor_attempts_job ON {schema}.conveyor_attempts (job_id, id);

CREATE INDEX conveyor_attempts_finished ON {schema}.conveyor_attempts (finished_at);

CREATE TABLE {schema}.conveyor_workers (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues JSONB NOT NULL,
    names JSONB NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL
)
