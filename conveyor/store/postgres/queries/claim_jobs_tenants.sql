-- The plain claim of claim_jobs.sql (the same fair order, the same answer), for claims that
-- span several (queue, tenant) groups: each group's head is first read short, and the full
-- heads only when the short read could have left out a better job (see ``redo``). A claim of
-- one group reads what claim_jobs.sql reads, at a little more cost, so the store picks this
-- statement only while its claims take jobs of several groups (job_plans.JobPlans).
-- complete_and_claim (postgres/claim_round.py) reuses the parts marked below.
-- @part ctes
-- @include claim_tenants
running AS (
    -- Slots each tenant already holds in these queues count as turns it has had.
    SELECT j.queue, coalesce(j.tenant, '') AS tenant, count(*) AS held
    FROM {schema}.conveyor_jobs AS j
    WHERE j.state = 'running' AND j.queue = ANY(%(queues)s::text[])
    -- @hook running: complete_and_claim leaves out the attempts it has just completed.
    GROUP BY 1, 2
),
groups AS (
    -- Each (queue, tenant) group with ready jobs, and the slots it holds.
    SELECT t.queue, t.tenant, coalesce(r.held, 0) AS held
    FROM tenants AS t
    LEFT JOIN running AS r ON r.queue = t.queue AND r.tenant = t.tenant
    WHERE t.tenant IS NOT NULL
),
depth AS (
    -- How many of its first ready jobs each group reads. ``full``: ``limit`` is always enough
    -- (a group's job comes after all of its own ahead of it), and with few groups some more,
    -- so a claim racing another one (whose rows it skips below) still finds enough. ``short``,
    -- with several groups: about what a group could contribute if every group had work at
    -- the top priority (the cut of twice ``limit``, spares included, falls at a turn no later
    -- than that plus the most slots any group holds), plus the gap between the most and the
    -- fewest slots held. ``redo`` below checks that the short read was enough.
    SELECT %(limit)s + %(limit)s / greatest(count(*), 1) AS full_reads,
           CASE WHEN count(*) <= 1 THEN %(limit)s + %(limit)s / greatest(count(*), 1)
                ELSE least(%(limit)s + %(limit)s / count(*),
                           (2 * %(limit)s + count(*) - 1) / count(*) + 1 + max(held) - min(held))
           END AS short_reads
    FROM groups
),
short_heads AS (
    -- Each group's first ``short`` ready jobs in claim order, ranked within their priority,
    -- and numbered in the order they were read.
    SELECT h.id, h.priority, h.run_at, g.held,
           row_number() OVER (
               PARTITION BY g.queue, g.tenant, h.priority ORDER BY h.run_at, h.id
           ) AS rank,
           row_number() OVER (
               PARTITION BY g.queue, g.tenant ORDER BY h.priority DESC, h.run_at, h.id
           ) AS read
    FROM groups AS g
    CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.run_at
        FROM {schema}.conveyor_jobs AS j
        WHERE j.queue = g.queue
          AND coalesce(j.tenant, '') = g.tenant
          AND j.state IN ('queued', 'scheduled', 'retrying')
          AND j.limit_key IS NULL AND j.rate_key IS NULL
          AND j.run_at <= now()
          -- A job past its start deadline is never handed out (the rescuer cancels it).
          AND (j.expires_at IS NULL OR j.expires_at > now())
          AND j.name = ANY(%(names)s::text[])
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT (SELECT short_reads FROM depth)
    ) AS h
),
short_ranked AS (
    SELECT id, read,
           row_number() OVER (ORDER BY priority DESC, rank + held, run_at, id) AS pos
    FROM short_heads
),
redo AS (
    -- A group's unread jobs all come after its last read one in the fair order, so the short
    -- read is exact unless some group read ``short`` jobs (it may have more) and its last one
    -- is among the first ``limit``: then every group's full head is read instead.
    SELECT EXISTS (
        SELECT 1
        FROM short_ranked, depth
        WHERE depth.short_reads < depth.full_reads
          AND short_ranked.read = depth.short_reads
          AND short_ranked.pos <= %(limit)s
    ) AS needed
),
ranked AS (
    (SELECT id, pos
     FROM short_ranked
     WHERE NOT (SELECT needed FROM redo)
     ORDER BY pos
     -- Only the best candidates go on (which also tells the planner they are few).
     LIMIT 2 * %(limit)s)
    UNION ALL
    -- Read only when ``redo`` says so (a one-time filter: otherwise never started).
    (SELECT h.id,
            row_number() OVER (
                ORDER BY h.priority DESC, h.rank + h.held, h.run_at, h.id
            ) AS pos
     FROM (
        SELECT f.id, f.priority, f.run_at, g.held,
               row_number() OVER (
                   PARTITION BY g.queue, g.tenant, f.priority ORDER BY f.run_at, f.id
               ) AS rank
        FROM groups AS g
        CROSS JOIN LATERAL (
            SELECT j.id, j.priority, j.run_at
            FROM {schema}.conveyor_jobs AS j
            WHERE j.queue = g.queue
              AND coalesce(j.tenant, '') = g.tenant
              AND j.state IN ('queued', 'scheduled', 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
              AND j.run_at <= now()
              AND (j.expires_at IS NULL OR j.expires_at > now())
              AND j.name = ANY(%(names)s::text[])
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT (SELECT full_reads FROM depth)
        ) AS f
     ) AS h
     WHERE (SELECT needed FROM redo)
     ORDER BY pos
     LIMIT 2 * %(limit)s)
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
