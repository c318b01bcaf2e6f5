WITH inserted AS (
    INSERT INTO {schema}.conveyor_jobs (
        queue, name, args, state, priority, max_attempts, run_at, timeout, unique_key, unique_for,
        tenant, meta, limit_key, limit_max, rate_key, rate_max, rate_per, expires_at,
        sequence_key, sequence_blocks,
        created_at  -- the column's default, written so a caller's clock (now=) applies too
    )
    SELECT %(queue)s, %(name)s, %(args)s::jsonb,
           CASE WHEN %(sequence_key)s::text IS NOT NULL THEN %(held_state)s::text
                WHEN due > now() THEN %(later_state)s::text ELSE %(due_state)s::text END,
           %(priority)s, %(max_attempts)s, due, %(timeout)s, %(unique_key)s,
           %(unique_for)s::float8, %(tenant)s, %(meta)s::jsonb,
           %(limit_key)s, %(limit_max)s::int, %(rate_key)s, %(rate_max)s::int,
           %(rate_per)s::float8,
           coalesce(to_timestamp(%(start_by)s::float8),
                    due + make_interval(secs => %(expires_in)s::float8)),
           %(sequence_key)s::text, %(sequence_blocks)s::boolean,
           now()
    FROM (
        SELECT COALESCE(to_timestamp(%(run_at)s::float8),
                        now() + make_interval(secs => %(delay)s::float8)) AS due
    ) AS d
    RETURNING id, state, queue, extract(epoch FROM created_at)::float8 AS created_at
),
woken AS (
    SELECT pg_notify(%(channel)s, inserted.queue) FROM inserted WHERE %(notify)s
)
SELECT inserted.id, inserted.state, inserted.created_at
FROM inserted, (SELECT COUNT(*) FROM woken) AS notified
