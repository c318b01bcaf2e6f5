-- The attempts still on record, plus the hourly roll-up of deleted jobs' usage (0019): an hour
-- counts when it starts inside [since, until).
SELECT key, sum(attempts), sum(jobs), total(wall), total(cpu), max(memory_mb)
FROM (
    SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END
               AS key,
           count(*) AS attempts, count(DISTINCT job_id) AS jobs, total(wall) AS wall,
           total(cpu) AS cpu, COALESCE(max(memory_mb), 0) AS memory_mb
    FROM conveyor_usage
    WHERE (:since IS NULL OR finished_at >= :since) AND (:until IS NULL OR finished_at < :until)
    GROUP BY 1
    UNION ALL
    SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN NULLIF(tenant_key, '') END,
           sum(attempts), sum(jobs), total(wall), total(cpu), max(memory_mb)
    FROM conveyor_usage_hourly
    WHERE (:since IS NULL OR hour >= :since) AND (:until IS NULL OR hour < :until)
    GROUP BY 1
)
GROUP BY key
