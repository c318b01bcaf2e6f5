-- Binary COPY (decision 124): id and args first, then the columns jobs of one type and one set
-- of options share, which copy_rows.py packs once per set.
COPY {schema}.conveyor_jobs (
    id, args, queue, name, state, priority, max_attempts, run_at, timeout, unique_key,
    unique_for, tenant, meta, limit_key, limit_max, rate_key, rate_max, rate_per, expires_at,
    created_at
) FROM STDIN (FORMAT BINARY)
