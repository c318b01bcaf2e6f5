-- Usage outlives its jobs (issue 16 item 7): when retention or a discard deletes a job, its
-- attempts' usage is folded into one row per hour, job name, queue and tenant (and one per unit
-- reported with ctx.usage) before the detailed rows go, so `conveyor usage --since 30d` and
-- Budget alerts still count work whose jobs are gone. Pruned by Retention.usage.
-- tenant_key is the tenant, or '' for jobs without one (a tenant is never empty), so that the
-- primary key can hold it.
CREATE TABLE conveyor_usage_hourly (
    hour REAL NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant_key TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    jobs INTEGER NOT NULL,
    wall REAL NOT NULL,
    cpu REAL NOT NULL,
    memory_mb REAL NOT NULL,
    PRIMARY KEY (hour, name, queue, tenant_key)
) STRICT;
CREATE TABLE conveyor_usage_hourly_units (
    hour REAL NOT NULL,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    tenant_key TEXT NOT NULL,
    unit TEXT NOT NULL,
    total REAL NOT NULL,
    PRIMARY KEY (hour, name, queue, tenant_key, unit)
) STRICT;
