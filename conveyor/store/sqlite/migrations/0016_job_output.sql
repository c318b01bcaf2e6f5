-- A job's partial output (ctx.emit): chunks in order, kept with the job and deleted with it.
CREATE TABLE conveyor_job_output (
    job_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    size INTEGER NOT NULL,
    chunk TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) STRICT, WITHOUT ROWID;
