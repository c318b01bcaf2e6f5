-- When a running job's progress last changed (ctx.progress): a job whose heartbeat goes on
-- while this stands still for its stall_after is flagged stalled (jobs show, the dashboard,
-- the StalledJobs rule).
ALTER TABLE conveyor_jobs ADD COLUMN progress_at REAL;
