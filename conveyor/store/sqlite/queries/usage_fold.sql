-- Before the jobs in :ids are deleted, fold their usage into the hourly roll-up (0019). A job
-- counts once, in the hour of its last attempt; WHERE true keeps SQLite from reading the
-- ON CONFLICT as a join's ON.
INSERT INTO conveyor_usage_hourly
    (hour, name, queue, tenant_key, attempts, jobs, wall, cpu, memory_mb)
SELECT hour, name, queue, tenant_key, count(*), sum(last), total(wall), total(cpu),
       max(memory_mb)
FROM (
    SELECT CAST(finished_at / 3600 AS INTEGER) * 3600.0 AS hour, name, queue,
           ifnull(tenant, '') AS tenant_key, wall, cpu, memory_mb,
           row_number() OVER (PARTITION BY job_id ORDER BY finished_at DESC, attempt DESC) = 1
               AS last
    FROM conveyor_usage WHERE job_id IN (SELECT value FROM json_each(:ids))
)
WHERE true
GROUP BY hour, name, queue, tenant_key
ON CONFLICT (hour, name, queue, tenant_key) DO UPDATE SET
    attempts = attempts + excluded.attempts, jobs = jobs + excluded.jobs,
    wall = wall + excluded.wall, cpu = cpu + excluded.cpu,
    memory_mb = max(memory_mb, excluded.memory_mb)
