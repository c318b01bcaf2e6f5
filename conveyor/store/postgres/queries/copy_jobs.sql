COPY {schema}.conveyor_jobs (
    id, queue, name, args, state, priority, max_attempts, run_at, timeout, unique_key,
    unique_for, tenant, meta, limit_key, limit_max, rate_key, rate_max, rate_per, expires_at,
    created_at
) FROM STDIN
