INSERT INTO {schema}.conveyor_runs (
    pipeline, state, input, graph, created_at, deadline_at, stall_after, last_progress_at, tenant
)
VALUES (
    %(pipeline)s, 'running', %(input)s, %(graph)s, extract(epoch FROM now())::float8,
    %(deadline_at)s::float8, %(stall_after)s::float8, extract(epoch FROM now())::float8,
    %(tenant)s
)
RETURNING id
