-- A job's partial output (ctx.emit): chunks in order, kept with the job and deleted with it.
CREATE TABLE {schema}.conveyor_job_output (
    job_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    size INTEGER NOT NULL,
    chunk TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
