-- Up to two tenant keys ('' for no tenant) with ready plain jobs in a queue, probing
-- conveyor_jobs_ready_tenant once per key: one row means fair order is plain priority order.
WITH RECURSIVE tenants(tenant) AS (
    SELECT (SELECT coalesce(tenant, '')
            FROM conveyor_jobs
            WHERE queue = :queue
              AND state IN ('queued', 'scheduled', 'retrying')
              AND limit_key IS NULL AND rate_key IS NULL
            ORDER BY coalesce(tenant, '')
            LIMIT 1)
    UNION ALL
    SELECT (SELECT coalesce(j.tenant, '')
            FROM conveyor_jobs AS j
            WHERE j.queue = :queue
              AND coalesce(j.tenant, '') > t.tenant
              AND j.state IN ('queued', 'scheduled', 'retrying')
              AND j.limit_key IS NULL AND j.rate_key IS NULL
            ORDER BY coalesce(j.tenant, '')
            LIMIT 1)
    FROM tenants AS t
    WHERE t.tenant IS NOT NULL
)
SELECT tenant FROM tenants WHERE tenant IS NOT NULL LIMIT 2
