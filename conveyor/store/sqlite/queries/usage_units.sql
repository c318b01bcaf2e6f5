-- Each unit's sum per group: the attempts on record plus the hourly roll-up (see usage_totals).
SELECT key, unit, total(total)
FROM (
    SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END
               AS key,
           u.key AS unit, total(u.value) AS total
    FROM conveyor_usage, json_each(conveyor_usage.units_json) AS u
    WHERE (:since IS NULL OR finished_at >= :since) AND (:until IS NULL OR finished_at < :until)
    GROUP BY 1, 2
    UNION ALL
    SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN NULLIF(tenant_key, '') END,
           unit, total(total)
    FROM conveyor_usage_hourly_units
    WHERE (:since IS NULL OR hour >= :since) AND (:until IS NULL OR hour < :until)
    GROUP BY 1, 2
)
GROUP BY key, unit
