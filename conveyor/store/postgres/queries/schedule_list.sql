-- By name in byte order, as SQLite sorts, whatever the database's collation.
SELECT name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
       overlap, source, paused, paused_by, extract(epoch FROM created_at)::float8,
       extract(epoch FROM updated_at)::float8, last_slot
FROM {schema}.conveyor_schedules
WHERE %(names)s::text[] IS NULL OR name = ANY(%(names)s::text[])
ORDER BY name COLLATE "C"
