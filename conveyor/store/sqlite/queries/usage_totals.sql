SELECT CASE :by WHEN 'name' THEN name WHEN 'queue' THEN queue WHEN 'tenant' THEN tenant END AS key, count(*), count(DISTINCT job_id), total(wall), total(cpu),
       COALESCE(max(memory_mb), 0)
FROM conveyor_usage
WHERE (:since IS NULL OR finished_at >= :since) AND (:until IS NULL OR finished_at < :until)
GROUP BY 1
