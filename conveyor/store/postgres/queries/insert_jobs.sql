WITH inserted AS (
    INSERT INTO {schema}.conveyor_jobs (
        queue, name, args, state, priority, max_attempts, run_at, timeout, unique_key, unique_for,
        tenant, meta, limit_key, limit_max, rate_key, rate_max, rate_per, expires_at,
        sequence_key, sequence_blocks,
        created_at  -- the column's default, written so a caller's clock (now=) applies too
    )
    SELECT j.queue, j.name, j.args::jsonb,
           CASE WHEN j.sequence_key IS NOT NULL THEN %(held_state)s::text
                WHEN j.due > now() THEN %(later_state)s::text ELSE %(due_state)s::text END,
           j.priority, j.max_attempts, j.due, j.timeout, j.unique_key, j.unique_for,
           j.tenant, j.meta::jsonb, j.limit_key, j.limit_max, j.rate_key, j.rate_max,
           j.rate_per,
           -- The start deadline: an absolute start_by, else expires_in after the job is due.
           coalesce(to_timestamp(j.start_by), j.due + make_interval(secs => j.expires_in)),
           j.sequence_key, j.sequence_blocks,
           now()
    FROM (
        SELECT t.*, COALESCE(to_timestamp(t.run_at), now() + make_interval(secs => t.delay)) AS due
        FROM unnest(
            %(queues)s::text[], %(names)s::text[], %(args)s::text[], %(priorities)s::int[],
            %(max_attempts)s::int[], %(run_ats)s::float8[], %(delays)s::float8[],
            %(timeouts)s::float8[], %(unique_keys)s::text[], %(unique_fors)s::float8[],
            %(tenants)s::text[], %(metas)s::text[], %(limit_keys)s::text[],
            %(limit_maxes)s::int[], %(rate_keys)s::text[], %(rate_maxes)s::int[],
            %(rate_pers)s::float8[], %(start_bys)s::float8[], %(expires_ins)s::float8[],
            %(sequence_keys)s::text[], %(sequence_blocks)s::boolean[]
        ) WITH ORDINALITY AS t(
            queue, name, args, priority, max_attempts, run_at, delay, timeout, unique_key,
            unique_for, tenant, meta, limit_key, limit_max, rate_key, rate_max, rate_per,
            start_by, expires_in, sequence_key, sequence_blocks, ord
        )
    ) AS j
    ORDER BY j.ord
    RETURNING id, state, queue, extract(epoch FROM created_at)::float8 AS created_at
),
woken AS (
    -- One NOTIFY per distinct queue; the payload is the queue name, never job data.
    SELECT pg_notify(%(channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM inserted) AS q
    WHERE %(notify)s
)
SELECT inserted.id, inserted.state, inserted.created_at
FROM inserted, (SELECT COUNT(*) FROM woken) AS notified
