SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END AS key, u.key, sum(u.value::float8)
FROM {schema}.conveyor_usage, jsonb_each_text(conveyor_usage.units_json::jsonb) AS u
WHERE (%(since)s::float8 IS NULL OR finished_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR finished_at < %(until)s::float8)
GROUP BY 1, 2
