-- Fairness between tenants. The plain claim finds the tenants with ready jobs in a queue by
-- skipping from one tenant to the next along this index (a loose index scan: one probe per
-- tenant, however deep each backlog), then reads each tenant's head in claim order. Jobs
-- without a tenant form one group, keyed '' (a tenant is never the empty string).
CREATE INDEX conveyor_jobs_ready_tenant
    ON conveyor_jobs (queue, (coalesce(tenant, '')), priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND limit_key IS NULL AND rate_key IS NULL;
