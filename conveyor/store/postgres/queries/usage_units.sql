-- Each unit's sum per group: the attempts on record plus the hourly roll-up (see usage_totals).
SELECT key, unit, sum(total)
FROM (
    SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN tenant END AS key,
           u.key AS unit, sum(u.value::float8) AS total
    FROM {schema}.conveyor_usage, jsonb_each_text(conveyor_usage.units_json::jsonb) AS u
    WHERE (%(since)s::float8 IS NULL OR finished_at >= %(since)s::float8)
      AND (%(until)s::float8 IS NULL OR finished_at < %(until)s::float8)
    GROUP BY 1, 2
    UNION ALL
    SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue
                WHEN 'tenant' THEN NULLIF(tenant_key, '') END,
           unit, sum(total)
    FROM {schema}.conveyor_usage_hourly_units
    WHERE (%(since)s::float8 IS NULL OR hour >= %(since)s::float8)
      AND (%(until)s::float8 IS NULL OR hour < %(until)s::float8)
    GROUP BY 1, 2
) AS recorded
GROUP BY key, unit
