-- Pipeline runs (issue 13): a run, its stages, each stage's items (one per job of the stage,
-- with the job's output), and the checkpoints of ctx.step. Outputs live here, not in
-- conveyor_jobs, so pruning jobs never takes what a run still needs. Times are epoch seconds.

CREATE TABLE conveyor_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    input TEXT NOT NULL,
    result TEXT,
    error TEXT,
    graph TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    deadline_at REAL,
    stall_after REAL,
    last_progress_at REAL NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    tenant TEXT
) STRICT;

CREATE INDEX conveyor_runs_pipeline ON conveyor_runs (pipeline, id);
CREATE INDEX conveyor_runs_finished ON conveyor_runs (state, finished_at);

CREATE TABLE conveyor_stage_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES conveyor_runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    stage TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'succeeded', 'failed', 'cancelled')),
    parents TEXT NOT NULL,
    pending_parents INTEGER NOT NULL,
    fan_out INTEGER NOT NULL,
    on_item_failure TEXT NOT NULL CHECK (on_item_failure IN ('fail', 'skip', 'collect')),
    items_total INTEGER NOT NULL DEFAULT 0,
    items_left INTEGER NOT NULL DEFAULT 0,
    items_failed INTEGER NOT NULL DEFAULT 0,
    input_override TEXT,
    template TEXT NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    UNIQUE (run_id, stage)
) STRICT;

CREATE TABLE conveyor_stage_items (
    stage_run_id INTEGER NOT NULL REFERENCES conveyor_stage_runs (id) ON DELETE CASCADE,
    -- 0 for a plain stage, 0..n-1 for a fan-out stage's items, -1 for its expander.
    item INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'succeeded', 'failed', 'cancelled')),
    input TEXT,
    output TEXT,
    error TEXT,
    PRIMARY KEY (stage_run_id, item)
) STRICT, WITHOUT ROWID;

CREATE INDEX conveyor_stage_items_job ON conveyor_stage_items (job_id);

CREATE TABLE conveyor_steps (
    job_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
) STRICT, WITHOUT ROWID;
