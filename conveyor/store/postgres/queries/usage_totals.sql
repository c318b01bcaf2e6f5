SELECT CASE %(by)s::text WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END AS key, count(*), count(DISTINCT job_id), COALESCE(sum(wall), 0),
       COALESCE(sum(cpu), 0), COALESCE(max(memory_mb), 0)
FROM {schema}.conveyor_usage
WHERE (%(since)s::float8 IS NULL OR finished_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR finished_at < %(until)s::float8)
GROUP BY 1
