-- The plain claim, fair between tenants (docs/queues.md, "Fairness between tenants"): order by
-- priority, then by each job's turn within its tenant (the tenant's running jobs in the queue
-- plus the job's rank among the tenant's ready jobs of that priority), then run_at, id. Jobs
-- without a tenant form one group, keyed ''. Only plain jobs (the limited pass takes the rest).
-- complete_and_claim (postgres/claim_round.py) reuses the parts marked below.
-- @part ctes
-- @include claim_tenants
heads AS (
    -- Each tenant's first ready jobs in claim order: ``limit`` of them is always enough (a
    -- tenant's job comes after all of its own ahead of it), and with few tenants some more,
    -- so a claim racing another one (whose rows it skips below) still finds enough.
    SELECT h.id, h.priority, h.run_at, t.queue, t.tenant,
           row_number() OVER (
               PARTITION BY t.queue, t.tenant, h.priority ORDER BY h.run_at, h.id
           ) AS rank
    FROM tenants AS t
    CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.run_at
        FROM {schema}.conveyor_jobs AS j
        WHERE j.queue = t.queue
          AND coalesce(j.tenant, '') = t.tenant
          AND j.state IN ('queued', 'scheduled', 'retrying')
          AND j.limit_key IS NULL AND j.rate_key IS NULL
          AND j.run_at <= now()
          -- A job past its start deadline is never handed out (the rescuer cancels it).
          AND (j.expires_at IS NULL OR j.expires_at > now())
          AND j.name = ANY(%(names)s::text[])
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT %(limit)s
            + %(limit)s / (SELECT greatest(count(*), 1) FROM tenants WHERE tenant IS NOT NULL)
    ) AS h
    WHERE t.tenant IS NOT NULL
),
running AS (
    -- Slots each tenant already holds in these queues count as turns it has had. With one
    -- (queue, tenant) group every candidate's count is the same and cannot change the order,
    -- so the scan is skipped (a one-time filter): it is most of a claim's cost where finished
    -- jobs' dead index entries pile up, a bitmap scan of conveyor_jobs_state_queue on a table
    -- the planner has no statistics for reading each of them on every claim (decision 126).
    SELECT j.queue, coalesce(j.tenant, '') AS tenant, count(*) AS held
    FROM {schema}.conveyor_jobs AS j
    WHERE j.state = 'running' AND j.queue = ANY(%(queues)s::text[])
    -- @hook running: complete_and_claim leaves out the attempts it has just completed.
      AND (SELECT count(*) FROM tenants WHERE tenant IS NOT NULL) > 1
    GROUP BY 1, 2
),
ranked AS (
    SELECT h.id,
           row_number() OVER (
               ORDER BY h.priority DESC, h.rank + coalesce(r.held, 0), h.run_at, h.id
           ) AS pos
    FROM heads AS h
    LEFT JOIN running AS r ON r.queue = h.queue AND r.tenant = h.tenant
    ORDER BY pos
    -- Only the best candidates go on (which also tells the planner they are few).
    LIMIT 2 * %(limit)s
),
chosen AS (
    -- Lock the best candidates still ready (rechecked on the locked row version), skipping
    -- rows another claim holds. The rows are found by primary key, whatever the statistics
    -- say: the id list is the only index condition, and the recheck is one IS TRUE test that
    -- proves no partial index's predicate. Written as a plain join, a table without
    -- statistics (a new one, or autovacuum off) let the planner scan conveyor_jobs_ready_tenant
    -- whole once per candidate, thinking it held one row: 25 to 45 ms at 20 tenants, where the
    -- candidates lie far apart in it (decision 119). A candidate's place is
    -- its place among the ranked ids (an initplan, read once), not a join with ranked:
    -- planned generically, that join was a nested loop rescanning ranked for each locked
    -- row, 100 x 100 rows and half the round's time at a claim of 50 (decision 138).
    SELECT j.id, array_position(ARRAY(SELECT id FROM ranked ORDER BY pos), j.id) AS pos
    FROM {schema}.conveyor_jobs AS j
    WHERE j.id = ANY(ARRAY(SELECT id FROM ranked))
      AND (j.state IN ('queued', 'scheduled', 'retrying')
           AND j.limit_key IS NULL AND j.rate_key IS NULL
           AND (j.expires_at IS NULL OR j.expires_at > now())) IS TRUE
      -- @hook look: a claim that looks for limited jobs first claims nothing when it finds one.
    ORDER BY pos
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
)
-- @part update
UPDATE {schema}.conveyor_jobs AS j
SET state = 'running',
    attempt = j.attempt + 1,
    token = j.token + 1,
    worker_id = %(worker_id)s,
    started_at = now(),
    lease_until = now() + make_interval(secs => %(lease_seconds)s),
    progress = NULL,
    progress_message = NULL
FROM chosen
WHERE j.id = chosen.id
RETURNING j.id, j.queue, j.name, j.args::text, j.attempt, j.max_attempts, j.token, j.priority,
          j.timeout, extract(epoch FROM j.lease_until)::float8,
          extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.created_at)::float8,
          j.meta::text, extract(epoch FROM j.run_at)::float8, j.tenant, chosen.pos
