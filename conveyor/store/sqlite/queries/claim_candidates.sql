-- One queue's best ready plain jobs in fair claim order (docs/queues.md, "Fairness between
-- tenants"): priority, then the job's turn within its tenant (the tenant's running jobs in
-- the queue plus the job's rank among its ready jobs of that priority), then run_at, id.
-- Jobs without a tenant form one group, keyed ''. Limited jobs take their own pass.
WITH RECURSIVE tenants(tenant) AS (
    -- A loose index scan on conveyor_jobs_ready_tenant: the smallest tenant key with ready
    -- jobs, then the next one above it, one index probe per tenant.
    SELECT (SELECT coalesce(tenant, '')
            FROM conveyor_jobs
            WHERE queue = :queue
              AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
              AND limit_key IS NULL AND rate_key IS NULL
            ORDER BY coalesce(tenant, '')
            LIMIT 1)
    UNION ALL
    SELECT (SELECT coalesce(j.tenant, '')
            FROM conveyor_jobs AS j
            WHERE j.queue = :queue
              AND coalesce(j.tenant, '') > t.tenant
              AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
            ORDER BY coalesce(j.tenant, '')
            LIMIT 1)
    FROM tenants AS t
    WHERE t.tenant IS NOT NULL
),
running(tenant, held) AS (
    -- Slots a tenant already holds in this queue count as turns it has had. Named index: with
    -- statistics from an ANALYZE of a big backlog SQLite would rather scan the table.
    SELECT coalesce(tenant, ''), count(*)
    FROM conveyor_jobs INDEXED BY conveyor_jobs_state_queue
    WHERE state = 'running' AND queue = :queue
    GROUP BY 1
),
groups(tenant, held) AS (
    SELECT t.tenant, coalesce(r.held, 0)
    FROM tenants AS t
    LEFT JOIN running AS r ON r.tenant = t.tenant
    WHERE t.tenant IS NOT NULL
),
reads(k) AS (
    -- How many head rows each tenant reads. ``limit`` is always enough: a tenant's job is
    -- never chosen before its own jobs ahead of it. Unless :full is set, fewer: when every
    -- tenant has a deep head at the top priority, the cut falls at a turn no later than
    -- ceil(limit / tenants) + the most slots any tenant holds, so a tenant takes at most that
    -- minus the fewest any holds (one more row must miss the cut). The caller checks that
    -- it did and reads again with :full if not.
    SELECT CASE WHEN :full OR count(*) = 0 THEN :limit
                ELSE min(:limit, (:limit + count(*) - 1) / count(*) + 1
                                 + max(held) - min(held)) END
    FROM groups
),
heads AS (
    SELECT j.id, j.priority, j.run_at, t.tenant,
           row_number() OVER (
               PARTITION BY t.tenant, j.priority ORDER BY j.run_at, j.id
           ) AS rank
    FROM tenants AS t
    JOIN conveyor_jobs AS j ON j.id IN (
        SELECT k.id
        FROM conveyor_jobs AS k
        WHERE k.queue = :queue
          AND coalesce(k.tenant, '') = t.tenant
          AND (k.state = 'queued' OR k.state = 'scheduled' OR k.state = 'retrying')
          AND k.limit_key IS NULL AND k.rate_key IS NULL
          AND k.run_at <= :now
          AND (k.expires_at IS NULL OR k.expires_at > :now)
          AND k.name IN (SELECT value FROM json_each(:names))
        ORDER BY k.priority DESC, k.run_at, k.id
        LIMIT (SELECT k FROM reads)
    )
    WHERE t.tenant IS NOT NULL
)
-- With each job its tenant and how many jobs its tenant read: a tenant that read fewer than
-- ``limit`` and has all of them chosen may have more ready jobs that should have been too.
SELECT h.id, h.priority, h.run_at, h.rank + g.held AS turn, h.tenant, (SELECT k FROM reads)
FROM heads AS h
JOIN groups AS g ON g.tenant = h.tenant
ORDER BY h.priority DESC, turn, h.run_at, h.id
LIMIT :limit
