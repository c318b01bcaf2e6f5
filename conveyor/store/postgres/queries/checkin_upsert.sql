-- A new check-in starts now; an existing one keeps when it started and when it last pinged.
INSERT INTO {schema}.conveyor_checkins AS c (name, timing, tz, grace, created_at, paused)
VALUES (%(name)s, %(timing)s, %(tz)s, %(grace)s, now(), %(paused)s)
ON CONFLICT (name) DO UPDATE SET
    timing = EXCLUDED.timing,
    tz = EXCLUDED.tz,
    grace = EXCLUDED.grace,
    paused = EXCLUDED.paused
