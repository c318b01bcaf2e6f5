-- Pipeline runs (issue 13): a run, its stages, each stage's items (one per job of the stage,
-- with the job's output), and the checkpoints of ctx.step. Outputs live here, not in
-- conveyor_jobs, so pruning jobs never takes what a run still needs. Times are epoch seconds
-- (double precision), as in conveyor_deliveries: callers may pass "now", and SQLite's tables
-- are the same.

CREATE TABLE {schema}.conveyor_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    input TEXT NOT NULL,
    result TEXT,
    error TEXT,
    graph TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    deadline_at DOUBLE PRECISION,
    stall_after DOUBLE PRECISION,
    last_progress_at DOUBLE PRECISION NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    tenant TEXT
);

CREATE INDEX conveyor_runs_pipeline ON {schema}.conveyor_runs (pipeline, id);
CREATE INDEX conveyor_runs_finished ON {schema}.conveyor_runs (state, finished_at);

CREATE TABLE {schema}.conveyor_stage_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES {schema}.conveyor_runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    stage TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'succeeded', 'failed', 'cancelled')),
    parents TEXT NOT NULL,
    pending_parents INTEGER NOT NULL,
    fan_out BOOLEAN NOT NULL,
    on_item_failure TEXT NOT NULL CHECK (on_item_failure IN ('fail', 'skip', 'collect')),
    items_total INTEGER NOT NULL DEFAULT 0,
    items_left INTEGER NOT NULL DEFAULT 0,
    items_failed INTEGER NOT NULL DEFAULT 0,
    input_override TEXT,
    template TEXT NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    error TEXT,
    UNIQUE (run_id, stage)
) WITH (fillfactor = 70);

CREATE TABLE {schema}.conveyor_stage_items (
    stage_run_id BIGINT NOT NULL REFERENCES {schema}.conveyor_stage_runs (id) ON DELETE CASCADE,
    -- 0 for a plain stage, 0..n-1 for a fan-out stage's items, -1 for its expander.
    item INTEGER NOT NULL,
    job_id BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'succeeded', 'failed', 'cancelled')),
    input TEXT,
    output TEXT,
    error TEXT,
    PRIMARY KEY (stage_run_id, item)
);

CREATE INDEX conveyor_stage_items_job ON {schema}.conveyor_stage_items (job_id);

CREATE TABLE {schema}.conveyor_steps (
    job_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, name)
);
