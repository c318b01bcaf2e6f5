-- A new check-in starts now; an existing one keeps when it started and when it last pinged.
INSERT INTO conveyor_checkins (name, timing, tz, grace, created_at, paused)
VALUES (:name, :timing, :tz, :grace, :now, :paused)
ON CONFLICT (name) DO UPDATE SET
    timing = excluded.timing,
    tz = excluded.tz,
    grace = excluded.grace,
    paused = excluded.paused
