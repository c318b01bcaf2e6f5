-- The attempts still on record, plus the hourly roll-up of deleted jobs' usage (0019): an hour
-- counts when it starts inside [since, until).
SELECT key, sum(attempts), sum(jobs), sum(wall), sum(cpu), max(memory_mb)
FROM (
    SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN tenant END AS key,
           count(*) AS attempts, count(DISTINCT job_id) AS jobs, COALESCE(sum(wall), 0) AS wall,
           COALESCE(sum(cpu), 0) AS cpu, COALESCE(max(memory_mb), 0) AS memory_mb
    FROM {schema}.conveyor_usage
    WHERE (%(since)s::float8 IS NULL OR finished_at >= %(since)s::float8)
      AND (%(until)s::float8 IS NULL OR finished_at < %(until)s::float8)
    GROUP BY 1
    UNION ALL
    SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN NULLIF(tenant_key, '') END,
           sum(attempts), sum(jobs), sum(wall), sum(cpu), max(memory_mb)
    FROM {schema}.conveyor_usage_hourly
    WHERE (%(since)s::float8 IS NULL OR hour >= %(since)s::float8)
      AND (%(until)s::float8 IS NULL OR hour < %(until)s::float8)
    GROUP BY 1
) AS recorded
GROUP BY key
