-- Usage outlives its jobs (issue 16 item 7): when retention or a discard deletes a job, its
-- attempts' usage is folded into one row per hour, job name, queue and tenant (and one per unit
-- reported with ctx.usage) before the detailed rows go, so `conveyor usage --since 30d` and
-- Budget alerts still count work whose jobs are gone. Pruned by Retention.usage.
-- tenant_key is the tenant, or '' for jobs without one (a tenant is never empty), so that the
-- primary key can hold it.
CREATE TABLE {schema}.conveyor_usage_hourly (
    hour DOUBLE PRECISION NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant_key TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    jobs BIGINT NOT NULL,
    wall DOUBLE PRECISION NOT NULL,
    cpu DOUBLE PRECISION NOT NULL,
    memory_mb DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, name, queue, tenant_key)
);
CREATE TABLE {schema}.conveyor_usage_hourly_units (
    hour DOUBLE PRECISION NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant_key TEXT NOT NULL,
    unit TEXT NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, name, queue, tenant_key, unit)
);
