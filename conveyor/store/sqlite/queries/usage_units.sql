SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END AS key, u.key, total(u.value)
FROM conveyor_usage, json_each(conveyor_usage.units_json) AS u
WHERE (:since IS NULL OR finished_at >= :since) AND (:until IS NULL OR finished_at < :until)
GROUP BY 1, 2
