WITH RECURSIVE tenants AS (
    -- The first CTE of claim_jobs.sql and claim_jobs_tenants.sql, which include this file.
    -- A loose index scan on conveyor_jobs_ready_tenant: each claimed, unpaused queue's
    -- smallest tenant key, then the next one above it, one index probe per tenant. A probe is
    -- the first entry at or after a (queue, tenant key) pair, which only that index holds in
    -- order; it is the queue's when its queue is (else the queue has no more tenants). Asked
    -- as "this queue, smallest key", a table without statistics had the planner sort every
    -- waiting job of the queue from conveyor_jobs_waiting at each claim (decision 128).
    SELECT q.queue,
           (SELECT CASE WHEN h.queue = q.queue THEN h.tenant END
            FROM (SELECT j.queue, coalesce(j.tenant, '') AS tenant
                  FROM {schema}.conveyor_jobs AS j
                  WHERE (j.queue, coalesce(j.tenant, '')) >= (q.queue, '')
                    AND j.state IN ('queued', 'scheduled', 'retrying')
                    AND j.limit_key IS NULL AND j.rate_key IS NULL
                  ORDER BY j.queue, coalesce(j.tenant, '')
                  LIMIT 1) AS h) AS tenant
    FROM (SELECT DISTINCT unnest(%(queues)s::text[]) AS queue) AS q
    -- Paused queues are skipped; an initplan read once per claim, in the same statement.
    WHERE q.queue <> ALL(ARRAY(SELECT name FROM {schema}.conveyor_queues WHERE paused))
    UNION ALL
    SELECT t.queue,
           (SELECT CASE WHEN h.queue = t.queue THEN h.tenant END
            FROM (SELECT j.queue, coalesce(j.tenant, '') AS tenant
                  FROM {schema}.conveyor_jobs AS j
                  WHERE (j.queue, coalesce(j.tenant, '')) > (t.queue, t.tenant)
                    AND j.state IN ('queued', 'scheduled', 'retrying')
                    AND j.limit_key IS NULL AND j.rate_key IS NULL
                  ORDER BY j.queue, coalesce(j.tenant, '')
                  LIMIT 1) AS h)
    FROM tenants AS t
    WHERE t.tenant IS NOT NULL
),
