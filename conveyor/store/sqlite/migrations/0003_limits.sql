-- Cluster-wide limits. A job of a limited type carries the key it counts against and the
-- limit itself, so any worker can enforce it from the row alone: limit_key/limit_max for
-- concurrency (running jobs per key), rate_key/rate_max/rate_per for starts per period.
ALTER TABLE conveyor_jobs ADD COLUMN limit_key TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN limit_max INTEGER;
ALTER TABLE conveyor_jobs ADD COLUMN rate_key TEXT;
ALTER TABLE conveyor_jobs ADD COLUMN rate_max INTEGER;
ALTER TABLE conveyor_jobs ADD COLUMN rate_per REAL;

CREATE INDEX conveyor_jobs_limit_running ON conveyor_jobs (limit_key)
    WHERE state = 'running' AND limit_key IS NOT NULL;

-- Ready jobs in two indexes: plain ones, claimed by one statement, and limited ones, claimed
-- by a pass that counts and spends budgets. A saturated limited backlog at the head of a
-- queue then never lies in the plain claim's path.
DROP INDEX conveyor_jobs_ready;

CREATE INDEX conveyor_jobs_ready ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;

CREATE INDEX conveyor_jobs_ready_limited
    ON conveyor_jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND (limit_key IS NOT NULL OR rate_key IS NOT NULL);

-- Rate limits: one row per claimed start of a rate-limited job, kept until it leaves its key's
-- window (expires_at = started_at + period). Each row carries the key's budget, so the keys
-- whose budget is spent are found from this table alone, without reading the jobs.
CREATE TABLE conveyor_rate_starts (
    key TEXT NOT NULL,
    started_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    rate_max INTEGER NOT NULL
) STRICT;

CREATE INDEX conveyor_rate_starts_key ON conveyor_rate_starts (key, expires_at);

-- Pruning drops the starts that left their window, whatever their key (a key may never be
-- claimed again, e.g. a per-user rate).
CREATE INDEX conveyor_rate_starts_expires ON conveyor_rate_starts (expires_at);
