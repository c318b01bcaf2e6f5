-- Start deadlines (issue 16, item 3): a job enqueued with expires_in= or start_by= must start
-- by expires_at or never. Claims skip a job past it; the rescuer ends such jobs as cancelled
-- (expired), reading them along this partial index of waiting jobs that have a deadline.
ALTER TABLE conveyor_jobs ADD COLUMN expires_at REAL;
CREATE INDEX conveyor_jobs_expiring ON conveyor_jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('queued', 'scheduled', 'retrying');
