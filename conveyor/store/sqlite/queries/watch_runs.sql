-- Running runs past their deadline, and running runs stalled (no stage finished for
-- stall_after seconds), at :now. Each half reads its partial index of running runs (migration
-- 0013), so the monitor's round costs what the running runs cost, however many finished.
-- INDEXED BY: without statistics SQLite prefers (state, finished_at), which reads every
-- running run instead of only the overdue ones.
SELECT id, pipeline, created_at, deadline_at, stall_after, last_progress_at, resumes, tenant
FROM (
    SELECT * FROM (
        SELECT * FROM conveyor_runs INDEXED BY conveyor_runs_deadline
        WHERE state = 'running' AND deadline_at IS NOT NULL AND deadline_at <= :now
        ORDER BY deadline_at
        LIMIT :limit
    )
    UNION
    SELECT * FROM (
        SELECT * FROM conveyor_runs INDEXED BY conveyor_runs_stall
        WHERE state = 'running' AND stall_after IS NOT NULL
          AND last_progress_at + stall_after <= :now
        ORDER BY last_progress_at + stall_after
        LIMIT :limit
    )
)
ORDER BY id
