-- The units part of usage_fold.sql: one row per hour, name, queue, tenant and unit.
INSERT INTO conveyor_usage_hourly_units (hour, name, queue, tenant_key, unit, total)
SELECT CAST(finished_at / 3600 AS INTEGER) * 3600.0, name, queue, ifnull(tenant, ''), u.key,
       total(u.value)
FROM conveyor_usage, json_each(conveyor_usage.units_json) AS u
WHERE job_id IN (SELECT value FROM json_each(:ids))
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (hour, name, queue, tenant_key, unit) DO UPDATE SET total = total + excluded.total
