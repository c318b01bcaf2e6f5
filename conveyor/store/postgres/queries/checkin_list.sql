SELECT name, timing, tz, grace, extract(epoch FROM created_at)::float8,
       extract(epoch FROM last_ping_at)::float8, paused
FROM {schema}.conveyor_checkins
ORDER BY name
