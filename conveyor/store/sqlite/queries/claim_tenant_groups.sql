-- The smallest and the largest tenant key ('' for no tenant) with ready plain jobs in a
-- queue: two probes of conveyor_jobs_ready_tenant. Equal keys mean one tenant group, whose
-- fair order is plain priority order.
SELECT (SELECT coalesce(tenant, '')
        FROM conveyor_jobs
        WHERE queue = :queue
          AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
          AND limit_key IS NULL AND rate_key IS NULL
        ORDER BY coalesce(tenant, '')
        LIMIT 1),
       (SELECT coalesce(tenant, '')
        FROM conveyor_jobs
        WHERE queue = :queue
          AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
          AND limit_key IS NULL AND rate_key IS NULL
        ORDER BY coalesce(tenant, '') DESC
        LIMIT 1)
