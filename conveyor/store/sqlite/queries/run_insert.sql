INSERT INTO conveyor_runs (
    pipeline, state, input, graph, created_at, deadline_at, stall_after, last_progress_at, tenant
)
VALUES (:pipeline, 'running', :input, :graph, :now, :deadline_at, :stall_after, :now, :tenant)
RETURNING id
