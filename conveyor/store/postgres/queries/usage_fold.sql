-- Before the jobs in ids are deleted (delete_jobs.sql), fold their usage into the hourly
-- roll-up (0019): one row per hour, name, queue and tenant, and one per unit. A job counts
-- once, in the hour of its last attempt.
WITH doomed AS (
    SELECT floor(finished_at / 3600) * 3600 AS hour, name, queue,
           COALESCE(tenant, '') AS tenant_key, wall, cpu, memory_mb, units_json,
           row_number() OVER (PARTITION BY job_id ORDER BY finished_at DESC, attempt DESC) = 1
               AS last
    FROM {schema}.conveyor_usage WHERE job_id = ANY(%(ids)s::bigint[])
), units AS (
    INSERT INTO {schema}.conveyor_usage_hourly_units AS h
        (hour, name, queue, tenant_key, unit, total)
    SELECT hour, name, queue, tenant_key, u.key, sum(u.value::float8)
    FROM doomed, jsonb_each_text(doomed.units_json::jsonb) AS u
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, name, queue, tenant_key, unit) DO UPDATE SET total = h.total + EXCLUDED.total
)
INSERT INTO {schema}.conveyor_usage_hourly AS h
    (hour, name, queue, tenant_key, attempts, jobs, wall, cpu, memory_mb)
SELECT hour, name, queue, tenant_key, count(*), count(*) FILTER (WHERE last), sum(wall),
       sum(cpu), max(memory_mb)
FROM doomed
GROUP BY 1, 2, 3, 4
ON CONFLICT (hour, name, queue, tenant_key) DO UPDATE SET
    attempts = h.attempts + EXCLUDED.attempts, jobs = h.jobs + EXCLUDED.jobs,
    wall = h.wall + EXCLUDED.wall, cpu = h.cpu + EXCLUDED.cpu,
    memory_mb = GREATEST(h.memory_mb, EXCLUDED.memory_mb)
