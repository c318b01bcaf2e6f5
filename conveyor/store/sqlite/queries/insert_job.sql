INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at,
    timeout, unique_key, tenant, meta
) VALUES (
    :queue, :name, :args, :state, :priority, :max_attempts, :run_at, :now,
    :timeout, :unique_key, :tenant, :meta
)
RETURNING id
