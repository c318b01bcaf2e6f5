-- The limited pass, step 3: claim the chosen jobs that are still ready (one claimed or
-- cancelled meanwhile is skipped), and in the same statement record one start per claimed
-- rate-limited job and forget the starts of these (locked) keys that have left their window.
-- started_at is the decision's clock, so the rate windows and the jobs' recorded starts agree.
-- A start is recorded only for a job this UPDATE claimed (the join on its RETURNING).
WITH claimed AS (
    UPDATE {schema}.conveyor_jobs AS j
    SET state = 'running',
        attempt = j.attempt + 1,
        token = j.token + 1,
        worker_id = %(worker_id)s,
        started_at = to_timestamp(%(now)s::float8),
        lease_until = to_timestamp(%(now)s::float8) + make_interval(secs => %(lease_seconds)s),
        progress = NULL,
        progress_message = NULL
    WHERE j.id = ANY(%(ids)s::bigint[])
      AND j.state IN ('queued', 'scheduled', 'retrying')
      AND (j.expires_at IS NULL OR j.expires_at > to_timestamp(%(now)s::float8))
    RETURNING j.id, j.queue, j.name, j.args::text, j.attempt, j.max_attempts, j.token,
              j.priority, j.timeout, extract(epoch FROM j.lease_until)::float8,
              extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.created_at)::float8,
              j.meta::text, extract(epoch FROM j.run_at)::float8, j.tenant
), expired AS (
    DELETE FROM {schema}.conveyor_rate_starts
    WHERE key = ANY(%(keys)s::text[]) AND expires_at <= to_timestamp(%(now)s::float8)
), started AS (
    INSERT INTO {schema}.conveyor_rate_starts (key, started_at, expires_at, rate_max)
    SELECT t.k, to_timestamp(%(now)s::float8), to_timestamp(t.e), t.m
    FROM unnest(%(start_ids)s::bigint[], %(keys)s::text[], %(expires)s::float8[], %(maxes)s::int[])
         AS t(id, k, e, m)
    JOIN claimed ON claimed.id = t.id
)
SELECT * FROM claimed
