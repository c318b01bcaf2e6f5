-- The check-in's last ping and the ping row in one statement; an unknown name updates
-- nothing, so no ping is recorded and no row comes back.
WITH pinged AS (
    UPDATE {schema}.conveyor_checkins SET last_ping_at = now()
    WHERE name = %(name)s
    RETURNING name, last_ping_at
),
recorded AS (
    INSERT INTO {schema}.conveyor_checkin_pings (name, at)
    SELECT name, last_ping_at FROM pinged
)
SELECT extract(epoch FROM last_ping_at)::float8 FROM pinged
