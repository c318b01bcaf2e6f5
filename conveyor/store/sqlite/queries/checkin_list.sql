SELECT name, timing, tz, grace, created_at, last_ping_at, paused
FROM conveyor_checkins
ORDER BY name
