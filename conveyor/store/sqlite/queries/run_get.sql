SELECT id, pipeline, state, input, result, error, graph, created_at, finished_at, deadline_at,
    stall_after, last_progress_at, resumes, tenant
FROM conveyor_runs WHERE id = :run_id
