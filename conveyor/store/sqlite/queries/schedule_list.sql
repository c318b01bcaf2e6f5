SELECT name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
       overlap, source, paused, paused_by, created_at, updated_at, last_slot
FROM conveyor_schedules
WHERE :names IS NULL OR name IN (SELECT value FROM json_each(:names))
ORDER BY name
